import { EventEmitter } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { Injectable } from '@nestjs/common';
import {
  contentAddress,
  encodeCanonicalCbor,
  isUuid,
  parseTimestamp,
  simpleCaseFold,
  toHex,
  uuidv5,
  uuidv7,
} from '@artifactstore/codec';
import { AppConfig } from '@artifactstore/config';
import {
  BlobStore,
  type ByteSource,
  type IngestOptions,
  type IngestReceipt,
  type OpenOptions,
} from '@artifactstore/dataplane';
import { Database, asBytes, asNumber, asString, type Row, type Tx } from '@artifactstore/db';
import { EventLog, type ChainVerification, type Event, type TailOptions } from '@artifactstore/events';
import {
  PACKAGE_FINALIZED,
  ViewProjector,
  fileIngestedEvent,
  packageCreatedEvent,
  packageFinalizedEvent,
  stateDigest,
} from '@artifactstore/views';
import {
  checkContentAddress,
  checkFilterText,
  checkId,
  checkLabel,
  checkMediaType,
  checkMetadata,
  checkPortablePath,
  checkSequence,
  normalizeRelativePath,
  parentDirectories,
  pathCollision,
} from './input-rules.js';
import { buildManifest, encodeManifest, manifestJson, type ManifestFile } from './manifest.js';
import { checkLimit, decodeCursor, toPage, type Page } from './page-cursor.js';
import {
  FILE_SELECT,
  PACKAGE_SELECT,
  asJsonObject,
  asStatus,
  toFileRecord,
  toPackageRecord,
  type FileRecord,
  type PackageRecord,
} from './records.js';
import {
  DuplicateRelativePathError,
  FileNotFoundError,
  IllegalPackageStateError,
  InvalidInputError,
  ManifestNotFoundError,
  PackageNotFoundError,
  PathConflictError,
  UnknownRetentionClassError,
  type PackageStatus,
} from './registry.errors.js';

export interface CreatePackageInput {
  readonly name: string;
  readonly producer: string;
  readonly subject: string;
  readonly retention_class: string;
  /** A JSON object; `{}` when absent. */
  readonly metadata?: Readonly<Record<string, unknown>>;
}

/** Bytes stored by `stageFile` and not yet attached to a package: the dataplane's receipt. */
export type StagedFile = IngestReceipt;

/** The dataplane's own limits and expected digests, passed through. */
export type IngestFileOptions = IngestOptions;

export interface PackageFilter {
  readonly name?: string;
  readonly producer?: string;
  readonly subject?: string;
  readonly status?: string;
  /** 1–1000, default 100. */
  readonly limit?: number;
  readonly cursor?: string;
}

export interface PageRequest {
  readonly limit?: number;
  readonly cursor?: string;
}

export interface FinalizeResult {
  readonly id: string;
  readonly status: PackageStatus;
  /** `blake3:<hex>` of the manifest bytes. */
  readonly content_address: string;
  /** The same digest as bare hex: the finalize event's payload_digest. */
  readonly manifest_digest: string;
}

export type ManifestFormat = 'cbor' | 'json';

// Checked at run time too: JavaScript callers (the CLI's options) are not held to the type.
const MANIFEST_FORMATS: readonly string[] = ['cbor', 'json'];

export interface ManifestBytes {
  readonly package_id: string;
  readonly content_address: string;
  readonly format: ManifestFormat;
  readonly bytes: Buffer;
}

/** A file's metadata and its bytes: the whole file verified by BLAKE3 as it streams, or the range asked for. */
export interface FileDownload {
  readonly file: FileRecord;
  readonly stream: Readable;
}

export interface ReplayReport {
  /** The highest sequence replayed (0 for an empty log). */
  readonly head_sequence: number;
  readonly state_digest_before: string;
  readonly state_digest_after: string;
}

/** RFC 9562 v5 namespace of storage location ids (docs/formats.md). */
export const STORAGE_LOCATION_NAMESPACE = '2c8c9714-15d9-40c4-a93a-96a3706cbe05';

/** Deterministic, so replay reproduces it: UUIDv5 of the canonical CBOR of [file id, backend, key]. */
export function storageLocationId(fileId: string, backend: string, key: string): string {
  return uuidv5(STORAGE_LOCATION_NAMESPACE, encodeCanonicalCbor([fileId, backend, key]));
}

/**
 * The domain service: the operations the HTTP API and the CLI share. Writes append an event and apply its view in
 * one transaction (through ViewProjector); reads go to the views. Errors are RegistryError subclasses with stable
 * codes, or the dataplane's own for bytes that could not be stored or read.
 *
 * Ingest and finalize of one package are serialized by taking the log's append lock before the package is checked
 * in the writing transaction: every check that decides whether an event may be appended runs after every earlier
 * append has committed and before any later one can start.
 *
 * Under the portable path policy (ARTIFACTSTORE_PATH_POLICY, the default) a new file's path must also pass
 * `checkPortablePath`, and must not differ from another path of its package, or a directory of one, only by
 * letter case. The policy decides only what is accepted from now on: files already stored stay as they are.
 */
@Injectable()
export class Registry {
  private readonly portablePaths: boolean;

  constructor(
    private readonly database: Database,
    private readonly eventLog: EventLog,
    private readonly projector: ViewProjector,
    private readonly blobStore: BlobStore,
    config: AppConfig,
  ) {
    this.portablePaths = config.pathPolicy === 'portable';
  }

  async createPackage(input: CreatePackageInput, actor: string): Promise<PackageRecord> {
    const fields = {
      name: checkLabel('name', input.name),
      producer: checkLabel('producer', input.producer),
      subject: checkLabel('subject', input.subject),
      metadata: checkMetadata(input.metadata),
    };
    const retentionClass = checkFilterText('retention_class', input.retention_class);
    checkLabel('actor', actor);
    const id = uuidv7();
    return this.database.write(async (tx) => {
      const [retention] = await tx.query('SELECT ttl_days FROM retention_classes WHERE name = ?', [
        retentionClass,
      ]);
      if (!retention) throw new UnknownRetentionClassError(retentionClass, await retentionClassNames(tx));
      const ttlDays = retention.ttl_days === null ? null : asNumber(retention.ttl_days);
      await this.projector.appendAndApply(
        tx,
        packageCreatedEvent(actor, {
          package_id: id,
          ...fields,
          retention_class: retentionClass,
          ttl_days: ttlDays,
        }),
      );
      return requirePackage(tx, id);
    });
  }

  /**
   * Streams `source` into the dataplane, then records the file. The package and the path are checked before the
   * first byte is read (so a doomed upload fails fast) and again under the append lock at commit (so of two
   * uploads of one path exactly one wins, and nothing enters a package after its manifest was built). A failure
   * after the bytes were stored leaves no row and no event; the blob stays for garbage collection.
   */
  async ingestFile(
    packageId: string,
    relativePath: string,
    mediaType: string | undefined,
    source: ByteSource,
    actor: string,
    options: IngestFileOptions = {},
  ): Promise<FileRecord> {
    const release = keepErrorsUntilRead(source);
    let staged: StagedFile;
    let path: string;
    let media: string;
    try {
      checkId('package_id', packageId);
      path = this.newPath(relativePath);
      media = checkMediaType(mediaType);
      checkLabel('actor', actor);
      const checkedPath = path;
      await this.database.read((tx) => checkCanAdd(tx, packageId, checkedPath, this.portablePaths));
      staged = await this.blobStore.ingest(source, options);
    } finally {
      release();
    }
    return this.recordFile(packageId, path, media, staged, actor);
  }

  /**
   * The first half of an ingest, for callers that learn the path only after the bytes (a multipart form whose
   * fields follow its file): checks that the package takes files, then stores the bytes. Attach the result with
   * `attachFile`; bytes never attached stay for garbage collection.
   */
  async stageFile(
    packageId: string,
    source: ByteSource,
    options: IngestFileOptions = {},
  ): Promise<StagedFile> {
    const release = keepErrorsUntilRead(source);
    try {
      checkId('package_id', packageId);
      await this.database.read((tx) => checkTakesFiles(tx, packageId));
      return await this.blobStore.ingest(source, options);
    } finally {
      release();
    }
  }

  /** The second half: records staged bytes as the file at `relativePath`, with every check of `ingestFile`. */
  async attachFile(
    packageId: string,
    relativePath: string,
    mediaType: string | undefined,
    staged: StagedFile,
    actor: string,
  ): Promise<FileRecord> {
    checkId('package_id', packageId);
    const path = this.newPath(relativePath);
    const media = checkMediaType(mediaType);
    checkLabel('actor', actor);
    return this.recordFile(packageId, path, media, staged, actor);
  }

  /** The path of a file being added: normalized, and portable unless the policy is posix. */
  private newPath(relativePath: string): string {
    const path = normalizeRelativePath(relativePath);
    return this.portablePaths ? checkPortablePath(path) : path;
  }

  private recordFile(
    packageId: string,
    path: string,
    mediaType: string,
    staged: StagedFile,
    actor: string,
  ): Promise<FileRecord> {
    return this.database.write(async (tx) => {
      await this.eventLog.lockAppends(tx);
      await checkCanAdd(tx, packageId, path, this.portablePaths);
      const fileId = uuidv7();
      await this.projector.appendAndApply(
        tx,
        fileIngestedEvent(actor, {
          file_id: fileId,
          package_id: packageId,
          relative_path: path,
          media_type: mediaType,
          size: staged.size,
          blake3: staged.blake3,
          sha256: staged.sha256,
          storage: {
            location_id: storageLocationId(fileId, staged.backend, staged.key),
            backend: staged.backend,
            key: staged.key,
          },
        }),
      );
      return requireFile(tx, fileId);
    });
  }

  /**
   * Builds the manifest from the views, appends `v1.package.finalized` with the manifest bytes as its payload, and
   * returns the content address. An empty package may be finalized; a finalized one may not be again.
   */
  async finalizePackage(packageId: string, actor: string): Promise<FinalizeResult> {
    checkId('package_id', packageId);
    checkLabel('actor', actor);
    return this.database.write(async (tx) => {
      await this.eventLog.lockAppends(tx);
      const [row] = await tx.query(
        'SELECT id, name, producer, subject, status, metadata FROM artifact_packages WHERE id = ?',
        [packageId],
      );
      if (!row) throw new PackageNotFoundError(packageId);
      const status = asStatus(row.status);
      if (status !== 'created') throw new IllegalPackageStateError(packageId, status, 'finalize');
      const files = await tx.query(
        'SELECT relative_path, media_type, size, blake3, sha256 FROM artifact_files WHERE package_id = ?',
        [packageId],
      );
      const manifest = buildManifest(
        {
          id: packageId,
          name: asString(row.name),
          producer: asString(row.producer),
          subject: asString(row.subject),
          metadata: asJsonObject(row.metadata),
        },
        files.map((file): ManifestFile => ({
          relative_path: asString(file.relative_path),
          media_type: asString(file.media_type),
          size: asNumber(file.size),
          blake3: Buffer.from(asString(file.blake3), 'hex'),
          sha256: Buffer.from(asString(file.sha256), 'hex'),
        })),
      );
      const event = await this.projector.appendAndApply(
        tx,
        packageFinalizedEvent(actor, packageId, encodeManifest(manifest)),
      );
      return {
        id: packageId,
        status: 'finalized' as const,
        content_address: contentAddress(event.payload_digest),
        manifest_digest: toHex(event.payload_digest),
      };
    });
  }

  async getPackage(packageId: string): Promise<PackageRecord> {
    checkId('package_id', packageId);
    return this.database.read((tx) => requirePackage(tx, packageId));
  }

  /** Newest first (created_at, then id), filtered by exact name, producer, subject and status. */
  async listPackages(filter: PackageFilter = {}): Promise<Page<PackageRecord>> {
    const limit = checkLimit(filter.limit);
    const where: string[] = [];
    const params: unknown[] = [];
    for (const field of ['name', 'producer', 'subject'] as const) {
      const value = filter[field];
      if (value === undefined) continue;
      where.push(`p.${field} = ?`);
      params.push(checkFilterText(field, value));
    }
    if (filter.status !== undefined) {
      if (filter.status !== 'created' && filter.status !== 'finalized') {
        throw new InvalidInputError('status', 'must be created or finalized');
      }
      where.push('p.status = ?');
      params.push(filter.status);
    }
    if (filter.cursor !== undefined) {
      const [createdAt = '', id = ''] = decodeCursor(filter.cursor, 2);
      if (!isUuid(id) || !isTimestamp(createdAt)) {
        throw new InvalidInputError('cursor', 'is not a cursor this server returned');
      }
      where.push('(p.created_at < ? OR (p.created_at = ? AND p.id < ?))');
      params.push(createdAt, createdAt, id);
    }
    const sql = `${PACKAGE_SELECT} ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY p.created_at DESC, p.id DESC LIMIT ?`;
    const rows = await this.database.read((tx) => tx.query(sql, [...params, limit + 1]));
    return toPage(rows, limit, toPackageRecord, (item) => [item.created_at, item.id]);
  }

  /** The package whose manifest has this content address (`blake3:<hex>`). */
  async resolveContentAddress(address: string): Promise<PackageRecord> {
    checkContentAddress(address);
    return this.database.read(async (tx) => {
      const [row] = await tx.query(`${PACKAGE_SELECT} WHERE p.manifest_digest = ?`, [address.slice(7)]);
      if (!row) throw new ManifestNotFoundError(address);
      return toPackageRecord(row);
    });
  }

  /** The files of a package in the order of their paths' UTF-8 bytes. */
  async listFiles(packageId: string, page: PageRequest = {}): Promise<Page<FileRecord>> {
    checkId('package_id', packageId);
    const limit = checkLimit(page.limit);
    const after = page.cursor === undefined ? undefined : cursorPath(decodeCursor(page.cursor, 1)[0]);
    const rows = await this.database.read(async (tx) => {
      await requirePackageStatus(tx, packageId);
      return after === undefined
        ? tx.query(`${FILE_SELECT} WHERE f.package_id = ? ORDER BY f.relative_path LIMIT ?`, [
            packageId,
            limit + 1,
          ])
        : tx.query(
            `${FILE_SELECT} WHERE f.package_id = ? AND f.relative_path > ? ORDER BY f.relative_path LIMIT ?`,
            [packageId, after, limit + 1],
          );
    });
    return toPage(rows, limit, toFileRecord, (item) => [item.relative_path]);
  }

  /**
   * The manifest of a finalized package, by package id or content address: the finalize event's payload byte for
   * byte (`cbor`), or its RFC 8785 projection (`json`).
   */
  async getManifestBytes(ref: string, format: ManifestFormat = 'cbor'): Promise<ManifestBytes> {
    if (!MANIFEST_FORMATS.includes(format)) throw new InvalidInputError('format', 'must be cbor or json');
    const byAddress = ref.startsWith('blake3:');
    const key = byAddress ? checkContentAddress(ref).slice('blake3:'.length) : checkId('package_id', ref);
    const found = await this.database.read(async (tx) => {
      const [row] = await tx.query(
        `SELECT id, status, manifest_digest FROM artifact_packages WHERE ${byAddress ? 'manifest_digest' : 'id'} = ?`,
        [key],
      );
      if (!row) throw byAddress ? new ManifestNotFoundError(ref) : new PackageNotFoundError(ref);
      const id = asString(row.id);
      const status = asStatus(row.status);
      if (status !== 'finalized') throw new IllegalPackageStateError(id, status, 'read the manifest');
      const [event] = await tx.query(
        `SELECT payload FROM events WHERE subject_kind = 'package' AND subject_id = ? AND event_type = ?
          ORDER BY sequence LIMIT 1`,
        [id, PACKAGE_FINALIZED],
      );
      if (!event) throw new Error(`package ${id} is finalized but its ${PACKAGE_FINALIZED} event is missing`);
      return { id, payload: asBytes(event.payload), digest: asString(row.manifest_digest) };
    });
    return {
      package_id: found.id,
      content_address: `blake3:${found.digest}`,
      format,
      bytes: format === 'cbor' ? found.payload : Buffer.from(manifestJson(found.payload), 'utf8'),
    };
  }

  /** A file's metadata, by id. */
  async findFile(fileId: string): Promise<FileRecord> {
    checkId('file_id', fileId);
    return this.database.read((tx) => requireFile(tx, fileId));
  }

  /** A file's metadata, by its package and path (the path is NFC-normalized first, as at ingest). */
  async findFileByPath(packageId: string, relativePath: string): Promise<FileRecord> {
    checkId('package_id', packageId);
    const path = normalizeRelativePath(relativePath);
    return this.database.read(async (tx) => {
      await requirePackageStatus(tx, packageId);
      const [row] = await tx.query(`${FILE_SELECT} WHERE f.package_id = ? AND f.relative_path = ?`, [
        packageId,
        path,
      ]);
      if (!row) throw new FileNotFoundError(`${JSON.stringify(path)} in package ${packageId}`);
      return toFileRecord(row);
    });
  }

  /** The bytes of a file: all of them (BLAKE3-verified as they stream), or the inclusive range asked for. */
  async openFile(file: FileRecord, range: OpenOptions = {}): Promise<Readable> {
    return this.blobStore.open(await this.storageKey(file), range);
  }

  /**
   * Writes the bytes `openFile` gives to `destination` and ends it (`BlobStore.send`: verified the same way, and
   * cheaper than piping `openFile` on the filesystem backend). Rejects as `stream.promises.pipeline` does.
   */
  async sendFile(file: FileRecord, destination: Writable, range: OpenOptions = {}): Promise<void> {
    await this.blobStore.send(await this.storageKey(file), destination, range);
  }

  /** Where this server's blob store keeps a file's bytes. */
  private async storageKey(file: FileRecord): Promise<string> {
    return this.database.read(async (tx) => {
      const rows = await tx.query('SELECT backend, key FROM storage_locations WHERE file_id = ?', [file.id]);
      const here = rows.find((row) => row.backend === this.blobStore.backend);
      if (!here) throw new FileNotFoundError(`${file.id} on the ${this.blobStore.backend} backend`);
      return asString(here.key);
    });
  }

  async getFile(fileId: string, range?: OpenOptions): Promise<FileDownload> {
    const file = await this.findFile(fileId);
    return { file, stream: await this.openFile(file, range) };
  }

  async getFileByPath(packageId: string, relativePath: string, range?: OpenOptions): Promise<FileDownload> {
    const file = await this.findFileByPath(packageId, relativePath);
    return { file, stream: await this.openFile(file, range) };
  }

  /** Events after `since`, at most `limit` of them, in sequence order. */
  async listEvents(since: number, limit: number): Promise<Event[]> {
    checkSequence(since);
    checkLimit(limit);
    return this.database.read((tx) => this.eventLog.readSince(tx, since, limit));
  }

  /** Every event after `since` as it commits, never missing one (the event log's tail). */
  tailEvents(since: number, options?: TailOptions): AsyncIterable<Event> {
    checkSequence(since);
    return this.eventLog.tail(since, options);
  }

  /** Like tailEvents, a batch at a time: what has committed after the cursor, up to `options.maxBatch`. */
  tailEventBatches(since: number, options?: TailOptions): AsyncIterable<Event[]> {
    checkSequence(since);
    return this.eventLog.tailBatches(since, options);
  }

  async headSequence(): Promise<number> {
    return this.eventLog.headSequence();
  }

  /** Throws unless the database answers and the blob storage takes a write; returns the head sequence. */
  async checkReadiness(): Promise<number> {
    const [head] = await Promise.all([this.headSequence(), this.blobStore.checkWritable()]);
    return head;
  }

  /**
   * Rebuilds every view from the log, with the state digest before and after (equal unless the views drifted).
   * Both digests are taken in the replay's transaction under the append lock, so a write racing the replay cannot
   * make them differ.
   */
  async replayViews(): Promise<ReplayReport> {
    let before: Buffer = Buffer.alloc(0);
    let after: Buffer = Buffer.alloc(0);
    const headSequence = await this.projector.replayAll({
      before: async (tx) => {
        before = await stateDigest(tx);
      },
      after: async (tx) => {
        after = await stateDigest(tx);
      },
    });
    return {
      head_sequence: headSequence,
      state_digest_before: toHex(before),
      state_digest_after: toHex(after),
    };
  }

  verifyChain(): Promise<ChainVerification> {
    return this.eventLog.verifyChain();
  }
}

/**
 * While the registry holds a source it has not read yet (during the early checks), an error on it would be an
 * unhandled 'error' event and crash the process (a client that hangs up). The stream keeps the error either way,
 * and iterating it rethrows it, so the dataplane still reports IncompleteStreamError. The listener goes once the
 * registry is done with the source; if it rejected the source unread, closing it is the caller's job.
 */
function keepErrorsUntilRead(source: ByteSource): () => void {
  if (!(source instanceof EventEmitter)) return () => undefined;
  source.on('error', ignore);
  return () => {
    source.off('error', ignore);
  };
}

function ignore(): void {
  // See keepErrorsUntilRead.
}

function isTimestamp(text: string): boolean {
  try {
    parseTimestamp(text);
    return true;
  } catch {
    return false;
  }
}

/** The path in a file cursor, checked like any path, so nothing odd reaches SQL. */
function cursorPath(path: string | undefined): string {
  try {
    return normalizeRelativePath(path);
  } catch {
    throw new InvalidInputError('cursor', 'is not a cursor this server returned');
  }
}

async function retentionClassNames(tx: Tx): Promise<string[]> {
  const rows = await tx.query('SELECT name FROM retention_classes ORDER BY name');
  return rows.map((row) => asString(row.name));
}

async function requirePackage(tx: Tx, packageId: string): Promise<PackageRecord> {
  const [row] = await tx.query(`${PACKAGE_SELECT} WHERE p.id = ?`, [packageId]);
  if (!row) throw new PackageNotFoundError(packageId);
  return toPackageRecord(row);
}

async function requirePackageStatus(tx: Tx, packageId: string): Promise<PackageStatus> {
  const [row] = await tx.query('SELECT status FROM artifact_packages WHERE id = ?', [packageId]);
  if (!row) throw new PackageNotFoundError(packageId);
  return asStatus(row.status);
}

async function requireFile(tx: Tx, fileId: string): Promise<FileRecord> {
  const [row] = await tx.query(`${FILE_SELECT} WHERE f.id = ?`, [fileId]);
  if (!row) throw new FileNotFoundError(fileId);
  return toFileRecord(row);
}

async function checkTakesFiles(tx: Tx, packageId: string): Promise<void> {
  const status = await requirePackageStatus(tx, packageId);
  if (status !== 'created') throw new IllegalPackageStateError(packageId, status, 'add a file');
}

/**
 * The package takes files, and `path` is free: not a file yet, no file is one of its directories, and it is not
 * a directory of a file. Children are found by range: every path under `a/` sorts from `a/` to just before `a0`
 * (`0` follows `/` in ASCII) in byte order, which both dialects use for relative_path. With `foldCase`, the same
 * holds of the paths' simple case foldings too (checkCaseCollision).
 */
async function checkCanAdd(tx: Tx, packageId: string, path: string, foldCase: boolean): Promise<void> {
  await checkTakesFiles(tx, packageId);
  const candidates = [path, ...parentDirectories(path)];
  const taken = await tx.query(
    `SELECT relative_path FROM artifact_files WHERE package_id = ? AND relative_path IN (${candidates.map(() => '?').join(', ')})`,
    [packageId, ...candidates],
  );
  if (taken.some((row) => row.relative_path === path)) throw new DuplicateRelativePathError(packageId, path);
  const [parent] = taken;
  if (parent) throw new PathConflictError(path, asString(parent.relative_path));
  const [child] = await tx.query(
    `SELECT relative_path FROM artifact_files WHERE package_id = ? AND relative_path >= ? AND relative_path < ?
      ORDER BY relative_path LIMIT 1`,
    [packageId, `${path}/`, `${path}0`],
  );
  if (child) throw new PathConflictError(path, asString(child.relative_path));
  if (foldCase) await checkCaseCollision(tx, packageId, path);
}

// SQLite allows 500 terms in one compound SELECT; a 1024-byte path has at most 512 segments.
const TERMS_PER_QUERY = 100;

/**
 * No file of the package differs from `path`, or has a directory that differs from one of its directories, only
 * by letter case, as the files' `folded_path` (the simple case folding of relative_path, kept by the view) shows.
 * Each term is an index lookup, not a scan of the package: the files whose folding is the folded path or one of
 * its folded directories, and the first file under each of those. The first suffices: two files under one folded
 * directory spell it alike, or they would have been refused themselves (a store may still hold such pairs from
 * before the rule, or from the posix policy; the first file under a directory then speaks for it).
 */
async function checkCaseCollision(tx: Tx, packageId: string, path: string): Promise<void> {
  const folded = [simpleCaseFold(path), ...parentDirectories(path).map(simpleCaseFold)];
  const terms = [
    {
      sql: `SELECT relative_path FROM artifact_files WHERE package_id = ? AND folded_path IN (${folded.map(() => '?').join(', ')})`,
      params: [packageId, ...folded],
    },
    ...folded.map((probe) => ({
      sql: `SELECT relative_path FROM (SELECT relative_path FROM artifact_files
        WHERE package_id = ? AND folded_path >= ? AND folded_path < ? ORDER BY folded_path LIMIT 1) AS first_under`,
      params: [packageId, `${probe}/`, `${probe}0`],
    })),
  ];
  const rows: Row[] = [];
  for (let start = 0; start < terms.length; start += TERMS_PER_QUERY) {
    const chunk = terms.slice(start, start + TERMS_PER_QUERY);
    const sql = chunk.map((term) => term.sql).join(' UNION ALL ');
    rows.push(
      ...(await tx.query(
        sql,
        chunk.flatMap((term) => term.params),
      )),
    );
  }
  const collisions = rows
    .map((row) => asString(row.relative_path))
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    .flatMap((other) => {
      const reason = pathCollision(path, other, true);
      return reason === undefined ? [] : [{ other, reason }];
    });
  const [first] = collisions;
  if (first) throw new PathConflictError(path, first.other, first.reason);
}
