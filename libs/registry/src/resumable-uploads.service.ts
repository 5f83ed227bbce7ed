import { createHash, randomBytes, type Hash } from 'node:crypto';
import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { DualHasher, type DualDigests } from '@artifactstore/codec';
import { AppConfig, Clock } from '@artifactstore/config';
import {
  DataplaneError,
  DigestMismatchError,
  IncompleteStreamError,
  SizeLimitExceededError,
  UploadStaging,
  type ByteSource,
  type StagedUploadState,
} from '@artifactstore/dataplane';
import { Database } from '@artifactstore/db';
import {
  checkId,
  checkLabel,
  checkMediaType,
  checkPortablePath,
  normalizeRelativePath,
} from './input-rules.js';
import { PackageCommands } from './package-commands.service.js';
import { checkCanAdd } from './path-checks.js';
import { InvalidInputError, RegistryError } from './registry.errors.js';
import {
  ChecksumMismatchError,
  UploadBusyError,
  UploadExpiredError,
  UploadNotFoundError,
  UploadOffsetMismatchError,
} from './resumable-upload.errors.js';

/** What a client declares when it creates a resumable upload. */
export interface NewUpload {
  /** The file's exact size. */
  readonly length: number;
  readonly relativePath: string;
  readonly mediaType?: string;
  /** Digests the file must have, checked when its last byte arrives (32 bytes each). */
  readonly sha256?: Uint8Array;
  readonly blake3?: Uint8Array;
}

/** Where an upload stands. */
export interface UploadStatus {
  readonly id: string;
  readonly packageId: string;
  readonly length: number;
  /** Bytes received; equal to `length` once the file is attached. */
  readonly offset: number;
  /** When the upload is removed if no byte arrives meanwhile, in ms since the epoch. */
  readonly expiresAt: number;
  /** The attached file's id, once the last byte arrived. */
  readonly fileId?: string;
}

/** The checksum one PATCH declares for its own bytes (tus checksum extension). */
export interface ChunkChecksum {
  readonly algorithm: 'sha1' | 'sha256';
  readonly digest: Buffer;
}

/** The upload's document, stored beside its bytes. Snake case like every record stored. */
interface UploadDocument {
  readonly package_id: string;
  readonly length: number;
  readonly relative_path: string;
  readonly media_type: string;
  readonly sha256?: string;
  readonly blake3?: string;
  readonly created_by: string;
}

const SWEEP_INTERVAL_MS = 15 * 60 * 1000;
/** Advisory lock keys of uploads start here: far from the collector's, 48 bits of the id above it. */
const UPLOAD_LOCK_BASE = 2 ** 52;

/**
 * Resumable uploads (tus, ADR 0014): a file's bytes arrive in any number of requests, to any process of the
 * deployment, and the file is attached when the last one does, exactly as `ingestFile` attaches a PUT's (same
 * checks under the append lock, same `v1.file.ingested`).
 *
 * Bytes and upload state live in the blob storage (UploadStaging), never only here. What this process keeps is an
 * optimisation: the BLAKE3 and SHA-256 of the bytes it has seen pass, so that hashing stays one pass over them while
 * PATCHes come in order to this process; one that finds no hasher at the offset (a restart, another process took
 * the previous PATCH) hashes the staged bytes from storage first.
 */
@Injectable()
export class ResumableUploads implements OnModuleDestroy {
  private readonly logger = new Logger('uploads');
  private readonly hashers = new Map<string, DualHasher>();
  private readonly busy = new Set<string>();
  private readonly portablePaths: boolean;
  private readonly expiryMs: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly database: Database,
    private readonly staging: UploadStaging,
    private readonly commands: PackageCommands,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {
    this.portablePaths = config.pathPolicy === 'portable';
    this.expiryMs = config.uploadExpiryHours * 3_600_000;
  }

  /**
   * Checks the package, the path and the length as an ingest would before its first byte, and creates the upload.
   * A file of length 0 is attached at once.
   */
  async create(packageId: string, input: NewUpload, actor: string): Promise<UploadStatus> {
    checkId('package_id', packageId);
    checkLabel('actor', actor);
    if (!Number.isSafeInteger(input.length) || input.length < 0) {
      throw new InvalidInputError('Upload-Length', 'must be a non-negative integer');
    }
    if (input.length > this.config.maxFileSize) throw new SizeLimitExceededError(this.config.maxFileSize);
    const path = this.newPath(input.relativePath);
    const mediaType = checkMediaType(input.mediaType);
    for (const [name, digest] of [
      ['sha256', input.sha256],
      ['blake3', input.blake3],
    ] as const) {
      if (digest !== undefined && digest.length !== 32) throw new InvalidInputError(name, 'must be 32 bytes');
    }
    await this.database.read((tx) => checkCanAdd(tx, packageId, path, this.portablePaths));
    const document: UploadDocument = {
      package_id: packageId,
      length: input.length,
      relative_path: path,
      media_type: mediaType,
      ...(input.sha256 === undefined ? {} : { sha256: Buffer.from(input.sha256).toString('hex') }),
      ...(input.blake3 === undefined ? {} : { blake3: Buffer.from(input.blake3).toString('hex') }),
      created_by: actor,
    };
    const id = randomBytes(16).toString('hex');
    await this.staging.create(id, JSON.stringify(document));
    this.hashers.set(id, new DualHasher());
    if (input.length === 0) return this.finishAlone(id, document);
    return { id, packageId, length: input.length, offset: 0, expiresAt: this.clock.now() + this.expiryMs };
  }

  /**
   * The upload's offset (tus HEAD). An upload whose bytes are all staged but whose file is not attached (the process
   * that took its last byte died before attaching) is attached now, so that a client that sees its offset at the
   * length may rely on its file.
   */
  async status(packageId: string, uploadId: string, actor: string): Promise<UploadStatus> {
    const { state, document } = await this.load(packageId, uploadId, actor);
    if (state.completion === undefined && state.offset === document.length) {
      return this.exclusively(uploadId, () => this.finishAlone(uploadId, document));
    }
    return this.statusOf(uploadId, document, state);
  }

  /**
   * Appends `source` at `offset`, which must be the upload's offset (UploadOffsetMismatchError), hashing it as it
   * passes; with `checksum`, bytes that do not match it are discarded (ChecksumMismatchError). Bytes received before
   * the source failed stay staged. When the last byte arrived, the file is attached.
   */
  async append(
    packageId: string,
    uploadId: string,
    offset: number,
    source: ByteSource,
    actor: string,
    checksum?: ChunkChecksum,
  ): Promise<UploadStatus> {
    return this.exclusively(uploadId, async () => {
      const { state, document } = await this.load(packageId, uploadId, actor);
      if (state.completion !== undefined) {
        if (offset !== document.length)
          throw new UploadOffsetMismatchError(uploadId, document.length, offset);
        return this.statusOf(uploadId, document, state);
      }
      if (offset !== state.offset) throw new UploadOffsetMismatchError(uploadId, state.offset, offset);
      const hasher = await this.hasherAt(uploadId, offset);
      const checked = checksum ? createHash(checksum.algorithm) : undefined;
      const taking = takeUpTo(source, document.length - offset, hasher, checked);
      let reached: number;
      try {
        reached = await this.staging.append(uploadId, offset, taking.chunks());
      } catch (error) {
        // What storage holds is not known exactly: the next PATCH hashes it from there.
        this.hashers.delete(uploadId);
        throw error;
      }
      if (reached === hasher.size) this.hashers.set(uploadId, hasher);
      else this.hashers.delete(uploadId);
      if (checksum && checked && (taking.error !== undefined || !checked.digest().equals(checksum.digest))) {
        await this.staging.truncate(uploadId, offset);
        this.hashers.delete(uploadId);
        if (taking.error === undefined) throw new ChecksumMismatchError(checksum.algorithm, uploadId);
      }
      if (taking.error !== undefined) throw taking.error;
      if (reached === document.length) return this.finishAlone(uploadId, document);
      return this.statusOf(uploadId, document, { ...state, offset: reached, touchedAt: this.clock.now() });
    });
  }

  /** Removes the upload and its staged bytes (tus termination). */
  async terminate(packageId: string, uploadId: string, actor: string): Promise<void> {
    await this.load(packageId, uploadId, actor);
    this.hashers.delete(uploadId);
    await this.staging.remove(uploadId);
  }

  /** Removes every upload not written to for ARTIFACTSTORE_UPLOAD_EXPIRY_HOURS; returns how many. */
  async sweepExpired(now = this.clock.now()): Promise<number> {
    let removed = 0;
    for await (const id of this.staging.ids()) {
      const state = await this.staging.state(id);
      if (state && now >= state.touchedAt + this.expiryMs && !this.busy.has(id)) {
        this.hashers.delete(id);
        await this.staging.remove(id);
        removed++;
      }
    }
    return removed;
  }

  /** Sweeps expired uploads every 15 minutes. */
  scheduleSweeps(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.sweepExpired().then(
        (removed) => {
          if (removed > 0) this.logger.log(`removed ${removed} expired uploads`);
        },
        (error: unknown) => {
          this.logger.warn(`sweeping expired uploads failed: ${String(error)}`);
        },
      );
    }, SWEEP_INTERVAL_MS).unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** The upload, when it exists, belongs to this package and actor, and has not expired (removed then). */
  private async load(
    packageId: string,
    uploadId: string,
    actor: string,
  ): Promise<{ state: StagedUploadState; document: UploadDocument }> {
    const state = await this.staging.state(uploadId);
    if (!state) throw new UploadNotFoundError(uploadId);
    const document = JSON.parse(state.document) as UploadDocument;
    if (document.package_id !== packageId || document.created_by !== actor) {
      throw new UploadNotFoundError(uploadId);
    }
    if (this.clock.now() >= state.touchedAt + this.expiryMs) {
      this.hashers.delete(uploadId);
      await this.staging.remove(uploadId);
      throw new UploadExpiredError(uploadId);
    }
    return { state, document };
  }

  private statusOf(id: string, document: UploadDocument, state: StagedUploadState): UploadStatus {
    const completion =
      state.completion === undefined ? undefined : (JSON.parse(state.completion) as { file_id: string });
    return {
      id,
      packageId: document.package_id,
      length: document.length,
      offset: completion ? document.length : state.offset,
      expiresAt: state.touchedAt + this.expiryMs,
      ...(completion ? { fileId: completion.file_id } : {}),
    };
  }

  /** This process's hasher when it saw every byte up to `offset`; otherwise one fed the staged bytes again. */
  private async hasherAt(uploadId: string, offset: number): Promise<DualHasher> {
    const kept = this.hashers.get(uploadId);
    if (kept?.size === offset) return kept;
    this.hashers.delete(uploadId);
    const hasher = new DualHasher();
    for await (const chunk of this.staging.read(uploadId)) hasher.update(chunk);
    // Another process appended meanwhile (two clients on one upload): the client asks for the offset again.
    if (hasher.size !== offset) throw new UploadBusyError(uploadId);
    return hasher;
  }

  /**
   * Attaches the staged bytes as the upload's file: checks their digests, stores the blob, records the file with
   * every check of a PUT, then marks the upload completed. Refused for good (digests, path taken, package no longer
   * open): the upload is removed. Storage or database trouble: it stays, and a HEAD or a PATCH at the end tries again.
   */
  private async finish(uploadId: string, document: UploadDocument): Promise<UploadStatus> {
    const state = await this.staging.state(uploadId);
    if (!state) throw new UploadNotFoundError(uploadId);
    if (state.completion !== undefined) return this.statusOf(uploadId, document, state);
    const digests = (await this.hasherAt(uploadId, document.length)).digests();
    this.hashers.delete(uploadId);
    try {
      checkDigest('sha256', document.sha256, digests);
      checkDigest('blake3', document.blake3, digests);
      const receipt = await this.staging.complete(uploadId, digests);
      const file = await this.commands.attachFile(
        document.package_id,
        document.relative_path,
        document.media_type,
        receipt,
        document.created_by,
      );
      const completion = JSON.stringify({ file_id: file.id });
      await this.staging.markCompleted(uploadId, completion);
      return this.statusOf(uploadId, document, {
        ...state,
        completion,
        touchedAt: this.clock.now(),
      });
    } catch (error) {
      if (error instanceof RegistryError || error instanceof DigestMismatchError) {
        await this.staging.remove(uploadId);
      }
      throw error;
    }
  }

  /**
   * Runs `work` as the only request of this process on the upload; UploadBusyError while another runs. Across
   * processes, only the attaching is locked (`finishAlone`): holding a database connection for a whole PATCH would
   * let slow clients take the pool.
   */
  private async exclusively<T>(uploadId: string, work: () => Promise<T>): Promise<T> {
    if (this.busy.has(uploadId)) throw new UploadBusyError(uploadId);
    this.busy.add(uploadId);
    try {
      return await work();
    } finally {
      this.busy.delete(uploadId);
    }
  }

  /** `finish` under a cluster-wide lock of the upload (PostgreSQL advisory lock), so that one process attaches it. */
  private async finishAlone(uploadId: string, document: UploadDocument): Promise<UploadStatus> {
    const key = UPLOAD_LOCK_BASE + Number.parseInt(uploadId.slice(0, 12), 16);
    const outcome = await this.database.exclusively(key, () => this.finish(uploadId, document));
    if (!outcome.ran) throw new UploadBusyError(uploadId);
    return outcome.value;
  }

  private newPath(relativePath: string): string {
    const path = normalizeRelativePath(relativePath);
    return this.portablePaths ? checkPortablePath(path) : path;
  }
}

function checkDigest(
  algorithm: 'sha256' | 'blake3',
  expectedHex: string | undefined,
  digests: DualDigests,
): void {
  const actual = digests[algorithm].toString('hex');
  if (expectedHex !== undefined && expectedHex !== actual) {
    throw new DigestMismatchError(algorithm, expectedHex, actual);
  }
}

/**
 * The bytes of `source`, at most `limit`, fed to `hasher` (and `checked`) as they pass to storage. A failing source
 * (a client gone, more bytes than the upload lacks) ends the iteration normally, so that storage keeps what came
 * before; its error is kept in `error` for the caller.
 */
function takeUpTo(
  source: ByteSource,
  limit: number,
  hasher: DualHasher,
  checked: Hash | undefined,
): { chunks: () => AsyncGenerator<Uint8Array>; readonly error: Error | undefined } {
  const taking = {
    error: undefined as Error | undefined,
    async *chunks(): AsyncGenerator<Uint8Array> {
      let taken = 0;
      try {
        for await (const chunk of source) {
          if (taken + chunk.length > limit) {
            throw new SizeLimitExceededError(limit);
          }
          hasher.update(chunk);
          checked?.update(chunk);
          taken += chunk.length;
          yield chunk;
        }
      } catch (error) {
        taking.error =
          error instanceof DataplaneError
            ? error
            : new IncompleteStreamError(`the request ended after ${taken} bytes: ${String(error)}`, {
                cause: error,
              });
      }
    },
  };
  return taking;
}
