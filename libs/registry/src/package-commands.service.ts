import { EventEmitter } from 'node:events';
import { Injectable } from '@nestjs/common';
import { canonicalJson, cborToJson, contentAddress, toHex, uuidv7 } from '@artifactstore/codec';
import { AppConfig } from '@artifactstore/config';
import { BlobStore, type ByteSource, type IngestOptions, type IngestReceipt } from '@artifactstore/dataplane';
import { Database, asNumber, asString, type Tx } from '@artifactstore/db';
import { EventLog } from '@artifactstore/events';
import {
  PACKAGE_CREATED,
  ViewProjector,
  fileIngestedEvent,
  packageCreatedEvent,
  packageFinalizedEvent,
  readPackageCreated,
  type PackageCreatedPayload,
} from '@artifactstore/views';
import {
  checkFilterText,
  checkId,
  checkIdempotencyKey,
  checkLabel,
  checkMediaType,
  checkMetadata,
  checkPortablePath,
  normalizeRelativePath,
} from './input-rules.js';
import { buildManifest, encodeManifest, type ManifestFile } from './manifest.js';
import { checkCanAdd, checkTakesFiles } from './path-checks.js';
import { asJsonObject, asStatus, type FileRecord, type PackageRecord } from './records.js';
import {
  IdempotencyKeyReusedError,
  IllegalPackageStateError,
  PackageConflictError,
  PackageNotFoundError,
  UnknownRetentionClassError,
  type PackageStatus,
} from './registry.errors.js';
import { storageLocationId } from './storage-location.js';
import { requireFile, requirePackage } from './view-reads.js';

export interface CreatePackageInput {
  /**
   * The package id to use, a lowercase hyphenated UUID (a bundle's import keeps the source's ids, so that the
   * manifest and the content address come out the same); a new UUIDv7 when absent. One already taken, by a
   * package of any state, is PackageConflictError.
   */
  readonly id?: string;
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

/** A create's answer: the package, and whether this request made it (false: an earlier try with its key did). */
export interface CreatedPackage {
  readonly package: PackageRecord;
  readonly created: boolean;
}

export interface FinalizeResult {
  readonly id: string;
  readonly status: PackageStatus;
  /** `blake3:<hex>` of the manifest bytes. */
  readonly content_address: string;
  /** The same digest as bare hex: the finalize event's payload_digest. */
  readonly manifest_digest: string;
}

/**
 * Writing packages: create, add files, finalize. Each command appends its event and applies its view in one
 * transaction (ViewProjector); refusals are RegistryError subclasses, bytes that could not be stored the
 * dataplane's errors.
 *
 * Ingest and finalize of one package are serialized by taking the log's append lock before the package is checked
 * in the writing transaction: every check that decides whether an event may be appended runs after every earlier
 * append has committed and before any later one can start (ADR 0006).
 *
 * Under the portable path policy (ARTIFACTSTORE_PATH_POLICY, the default) a new file's path must also pass
 * `checkPortablePath`, and must not differ from another path of its package, or a directory of one, only by
 * letter case. The policy decides only what is accepted from now on: files already stored stay as they are.
 */
@Injectable()
export class PackageCommands {
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
    return (await this.create(input, actor, undefined)).package;
  }

  /**
   * Creates the package once per actor and `idempotencyKey`: a retry with the same key and the same fields (and
   * the same `id`, when the create names one) answers the package the first try created (`created` false); the
   * same key with other fields is IdempotencyKeyReusedError. The key is looked up before the id, so the retry of a
   * create that named its id gets its package, not PackageConflictError. The key travels in the event, so replay keeps it and every process agrees.
   */
  createPackageIdempotently(
    input: CreatePackageInput,
    actor: string,
    idempotencyKey: string,
  ): Promise<CreatedPackage> {
    return this.create(input, actor, checkIdempotencyKey(idempotencyKey));
  }

  private async create(
    input: CreatePackageInput,
    actor: string,
    idempotencyKey: string | undefined,
  ): Promise<CreatedPackage> {
    const fields = {
      name: checkLabel('name', input.name),
      producer: checkLabel('producer', input.producer),
      subject: checkLabel('subject', input.subject),
      metadata: checkMetadata(input.metadata),
    };
    const retentionClass = checkFilterText('retention_class', input.retention_class);
    checkLabel('actor', actor);
    const givenId = input.id === undefined ? undefined : checkId('id', input.id);
    const id = givenId ?? uuidv7();
    return this.database.write(async (tx) => {
      if (idempotencyKey !== undefined || givenId !== undefined) {
        // Under the append lock, so that of two tries racing with one key (or for one id) exactly one creates.
        await this.eventLog.lockAppends(tx);
      }
      if (idempotencyKey !== undefined) {
        const earlier = await this.createdWithKey(tx, actor, idempotencyKey);
        if (earlier) {
          // A retry of a create that named its id answers that package; the key with another id is another body.
          const same =
            (givenId === undefined || givenId === earlier.package_id) &&
            earlier.name === fields.name &&
            earlier.producer === fields.producer &&
            earlier.subject === fields.subject &&
            earlier.retention_class === retentionClass &&
            canonicalJson(cborToJson(earlier.metadata)) === canonicalJson(cborToJson(fields.metadata));
          if (!same) throw new IdempotencyKeyReusedError(idempotencyKey);
          return { package: await requirePackage(tx, earlier.package_id), created: false };
        }
      }
      if (givenId !== undefined) {
        const [taken] = await tx.query('SELECT id FROM artifact_packages WHERE id = ?', [givenId]);
        if (taken) throw new PackageConflictError(givenId);
      }
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
          ...(idempotencyKey === undefined ? {} : { idempotency_key: idempotencyKey }),
        }),
      );
      return { package: await requirePackage(tx, id), created: true };
    });
  }

  /** The creation fields of the package `actor` created with `key`, as its event recorded them. */
  private async createdWithKey(
    tx: Tx,
    actor: string,
    key: string,
  ): Promise<PackageCreatedPayload | undefined> {
    const [row] = await tx.query(
      'SELECT id FROM artifact_packages WHERE created_by = ? AND idempotency_key = ?',
      [actor, key],
    );
    if (!row) return undefined;
    const event = await this.eventLog.firstOfSubject(tx, 'package', asString(row.id), PACKAGE_CREATED);
    if (!event) throw new Error(`package ${asString(row.id)} has no ${PACKAGE_CREATED} event`);
    return readPackageCreated(event);
  }

  /**
   * Streams `source` into the dataplane, then records the file. The package and the path are checked before the
   * first byte is read (so a doomed upload fails fast) and again under the append lock at commit (so of two
   * uploads of one path exactly one wins, and nothing enters a package after its manifest was built). A failure
   * after the bytes were stored leaves no row and no event; the blob stays for garbage collection. The staging copy
   * the dataplane keeps until the commit is released either way.
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
    try {
      return await this.recordFile(packageId, path, media, staged, actor);
    } finally {
      await this.blobStore.releaseStaging(staged);
    }
  }

  /**
   * The first half of an ingest, for callers that learn the path only after the bytes (a multipart form whose
   * fields follow its file): checks that the package takes files, then stores the bytes. Attach the result with
   * `attachFile`, or let go of them with `discardStaged`; bytes never attached stay for garbage collection.
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

  /**
   * The second half: records staged bytes as the file at `relativePath`, with every check of `ingestFile`. The
   * staging copy is released either way.
   */
  async attachFile(
    packageId: string,
    relativePath: string,
    mediaType: string | undefined,
    staged: StagedFile,
    actor: string,
  ): Promise<FileRecord> {
    try {
      checkId('package_id', packageId);
      const path = this.newPath(relativePath);
      const media = checkMediaType(mediaType);
      checkLabel('actor', actor);
      return await this.recordFile(packageId, path, media, staged, actor);
    } finally {
      await this.blobStore.releaseStaging(staged);
    }
  }

  /** Lets go of staged bytes that will not be attached (a form that failed after its file part). */
  discardStaged(staged: StagedFile): Promise<void> {
    return this.blobStore.releaseStaging(staged);
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
      // The checks go out right behind the lock's statement, so they run once it is held: one round trip for both
      // on PostgreSQL (ADR 0017).
      await Promise.all([
        this.eventLog.lockAppends(tx),
        checkCanAdd(tx, packageId, path, this.portablePaths),
      ]);
      // The collector deletes blobs only under the append lock, so a blob found here stays until after the commit;
      // one it took since the bytes were stored comes back from the staging copy (ADR 0013).
      await this.blobStore.ensureStored(staged);
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
      // The lock, the package and its files in one round trip on PostgreSQL: the reads run once the lock is held.
      // The files only of a package that takes them, so that a refused finalize reads none under the lock.
      const [, [row], files] = await Promise.all([
        this.eventLog.lockAppends(tx),
        tx.query('SELECT id, name, producer, subject, status, metadata FROM artifact_packages WHERE id = ?', [
          packageId,
        ]),
        tx.query(
          `SELECT relative_path, media_type, size, blake3, sha256 FROM artifact_files WHERE package_id = ?
            AND EXISTS (SELECT 1 FROM artifact_packages WHERE id = ? AND status = 'created')`,
          [packageId, packageId],
        ),
      ]);
      if (!row) throw new PackageNotFoundError(packageId);
      const status = asStatus(row.status);
      if (status !== 'created') throw new IllegalPackageStateError(packageId, status, 'finalize');
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

async function retentionClassNames(tx: Tx): Promise<string[]> {
  const rows = await tx.query('SELECT name FROM retention_classes ORDER BY name');
  return rows.map((row) => asString(row.name));
}
