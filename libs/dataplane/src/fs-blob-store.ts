import { link, mkdir, open, readdir, rm, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import {
  BlobStore,
  type BlobRead,
  type BlobStat,
  type ByteSource,
  type IngestOptions,
  type IngestReceipt,
  type OpenOptions,
  type StoredBlob,
} from './blob-store.js';
import { readFileChunks } from './blob-file-reader.js';
import { BlobFileWriter } from './blob-file-writer.js';
import { BlobNotFoundError, DataplaneError, StorageError } from './dataplane.errors.js';
import { takesDirectWrites } from './direct-io.js';
import { HashedSource, storageError } from './ingest-checks.js';
import { tempFileName, tempFileOwnerIsGone, thisProcessOwner } from './temp-file-owner.js';

const KEY = /^[0-9a-f]{64}$/;

export interface FsBlobStoreOptions {
  /**
   * Write and read blobs with O_DIRECT, past the page cache (default true; Linux only). Where the filesystem refuses
   * it, the store uses the page cache instead, decided once by a probe (`writesDirect`).
   */
  readonly directIo?: boolean;
}

/**
 * A temp file untouched this long belongs to no live ingest (an ingest writes it continuously), whoever named it.
 */
const STALE_TEMP_MS = 60 * 60 * 1000;

/**
 * Blobs as files under `<root>/<aa>/<bb>/<blake3 hex>`. An ingest writes a temp file under `<root>/tmp/`, named for
 * its process (temp-file-owner.ts), on the same filesystem, fsyncs it, hard-links it into place and fsyncs the
 * directory, so a blob is absent or complete under its key. The temp file is the receipt's staging copy: it keeps the
 * bytes until `releaseStaging`, and a crash leaves at most temp files, which `sweepTempFiles` removes at the next
 * start (at once when their process is provably dead). Identical bytes land on the same key: the second ingest finds
 * the blob and places nothing, without an fsync (a race between two is harmless: the link that loses finds the
 * identical blob in place).
 */
export class FsBlobStore extends BlobStore {
  readonly backend = 'fs';
  private readonly tempDir: string;
  private readonly wantsDirectIo: boolean;
  private directWrites: Promise<boolean> | undefined;
  private decidedDirect = false;

  constructor(
    private readonly root: string,
    options: FsBlobStoreOptions = {},
  ) {
    super();
    this.tempDir = join(root, 'tmp');
    this.wantsDirectIo = options.directIo ?? true;
  }

  /** Whether blobs are written and read with O_DIRECT: asked for and taken by the filesystem (known after `init`). */
  get writesDirect(): boolean {
    return this.decidedDirect;
  }

  /** Creates the folders, removes temp files left by a crash and decides whether to use O_DIRECT. */
  async init(): Promise<void> {
    await mkdir(this.tempDir, { recursive: true });
    await this.sweepTempFiles();
    // A failed probe (a full disk, say) must not stop a store that can still serve reads: the next ingest retries.
    await this.decideDirectWrites().catch(() => undefined);
  }

  /** Probes the temp folder once for O_DIRECT writes when they are asked for; a failed probe is tried again. */
  private decideDirectWrites(): Promise<boolean> {
    this.directWrites ??= (
      this.wantsDirectIo
        ? takesDirectWrites(this.tempDir, tempFileName(thisProcessOwner()))
        : Promise.resolve(false)
    ).then(
      (direct) => (this.decidedDirect = direct),
      (error: unknown) => {
        this.directWrites = undefined;
        throw storageError(`cannot write under ${this.tempDir}`, error);
      },
    );
    return this.directWrites;
  }

  sweepLeftovers(now = Date.now()): Promise<number> {
    return this.sweepTempFiles(now);
  }

  /**
   * Deletes the temp files of processes that are provably dead (`tempFileOwnerIsGone`), and any untouched for an
   * hour: a younger one of another host, of a live process, or whose name records no owner may be a live ingest's.
   */
  async sweepTempFiles(now = Date.now()): Promise<number> {
    let removed = 0;
    for (const name of await readdir(this.tempDir)) {
      const path = join(this.tempDir, name);
      const info = await stat(path).catch(() => undefined);
      if (info && (now - info.mtimeMs >= STALE_TEMP_MS || (await tempFileOwnerIsGone(name)))) {
        await rm(path, { force: true });
        removed++;
      }
    }
    return removed;
  }

  pathOf(key: string): string {
    if (!KEY.test(key)) throw new BlobNotFoundError(key);
    return join(this.root, key.slice(0, 2), key.slice(2, 4), key);
  }

  async ingest(source: ByteSource, options: IngestOptions = {}): Promise<IngestReceipt> {
    const tempPath = join(this.tempDir, tempFileName(thisProcessOwner()));
    const writer = await BlobFileWriter.create(tempPath, await this.decideDirectWrites());
    let closed = false;
    try {
      const hashed = new HashedSource(source, options);
      for await (const chunk of hashed.chunks()) await writer.push(chunk);
      await writer.finish();
      const { size, blake3, sha256 } = hashed.result();
      const key = blake3.toString('hex');
      // Identical bytes already stored: this copy is placed only should `ensureStored` need it, and synced then.
      const duplicate = await this.exists(key);
      if (!duplicate) await writer.sync();
      closed = true;
      await writer.close();
      if (!duplicate) await this.place(tempPath, key);
      return { size, blake3, sha256, backend: this.backend, key, staging: tempPath };
    } catch (error) {
      if (!closed) await writer.close().catch(() => undefined);
      await rm(tempPath, { force: true }).catch(() => undefined);
      throw error instanceof DataplaneError ? error : storageError('ingest failed', error);
    }
  }

  /** Puts the blob back from the staging copy when it is missing; the copy is synced first, as it may not be yet. */
  async ensureStored(receipt: IngestReceipt): Promise<boolean> {
    if (await this.exists(receipt.key)) return false;
    if (!this.holdsStaging(receipt.staging)) {
      throw new StorageError(
        `blob ${receipt.key} is missing and ${receipt.staging} is no staging copy of this store`,
      );
    }
    try {
      await syncFile(receipt.staging);
      await this.place(receipt.staging, receipt.key);
    } catch (error) {
      if (isNotFound(error)) {
        throw new StorageError(`blob ${receipt.key} is missing and so is its staging copy`, { cause: error });
      }
      throw storageError(`cannot put blob ${receipt.key} back from its staging copy`, error);
    }
    return true;
  }

  /** Every failure is swallowed: a temp file left behind is the sweep's (`sweepTempFiles`). */
  async releaseStaging(receipt: IngestReceipt): Promise<void> {
    if (this.holdsStaging(receipt.staging)) await rm(receipt.staging, { force: true }).catch(() => undefined);
  }

  /**
   * Links a synced file into place as the blob `key` and syncs the directory. A blob already there is an identical
   * one, placed by a concurrent ingest.
   */
  private async place(path: string, key: string): Promise<void> {
    const finalPath = this.pathOf(key);
    await mkdir(dirname(finalPath), { recursive: true });
    await link(path, finalPath).catch((error: unknown) => {
      if ((error as { code?: unknown }).code !== 'EEXIST') throw error;
    });
    await syncFile(dirname(finalPath));
  }

  /** Whether `path` names a temp file of this store (so that a handle from elsewhere removes nothing). */
  private holdsStaging(path: string): boolean {
    return dirname(path) === this.tempDir && basename(path).endsWith('.tmp');
  }

  /**
   * The one read path (readFileChunks): with O_DIRECT while ingests write with it, so that neither writes nor reads
   * pass through the page cache; through it otherwise.
   */
  protected async read(key: string, options: OpenOptions): Promise<BlobRead> {
    const info = await this.stat(key);
    if (!info) throw new BlobNotFoundError(key);
    const whole = options.start === undefined && options.end === undefined;
    const { start, end } = whole ? { start: 0, end: info.size - 1 } : this.rangeWithin(options, info.size);
    return { size: info.size, chunks: readFileChunks(this.pathOf(key), start, end, this.writesDirect) };
  }

  async checkWritable(): Promise<void> {
    // A tiny temp file, written and synced like an ingest's and removed at once (the sweep takes any leftover).
    const probe = join(this.tempDir, tempFileName(thisProcessOwner()));
    try {
      const handle = await open(probe, 'wx');
      try {
        await handle.writeFile('probe');
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (error) {
      throw storageError(`cannot write under ${this.tempDir}`, error);
    } finally {
      // Best effort: when the folder itself is broken, there is nothing to remove and the error above says why.
      await rm(probe, { force: true }).catch(() => undefined);
    }
  }

  async exists(key: string): Promise<boolean> {
    return (await this.stat(key)) !== undefined;
  }

  async stat(key: string): Promise<BlobStat | undefined> {
    if (!KEY.test(key)) return undefined;
    try {
      const info = await stat(this.pathOf(key));
      return info.isFile() ? { size: info.size } : undefined;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw storageError(`cannot stat blob ${key}`, error);
    }
  }

  async delete(key: string): Promise<boolean> {
    if (!KEY.test(key)) return false;
    try {
      await unlink(this.pathOf(key));
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw storageError(`cannot delete blob ${key}`, error);
    }
  }

  async *list(): AsyncGenerator<string> {
    for await (const { key } of this.blobFiles()) yield key;
  }

  async *listWithSizes(): AsyncGenerator<StoredBlob> {
    for await (const { key, path } of this.blobFiles()) {
      const info = await stat(path).catch((error: unknown) => {
        // Deleted since the folder was read: no longer stored.
        if (isNotFound(error)) return undefined;
        throw storageError(`cannot stat blob ${key}`, error);
      });
      if (info?.isFile()) yield { key, size: info.size, modifiedAt: Math.floor(info.mtimeMs) };
    }
  }

  /** Every file named as a blob in the folder its key belongs in, one folder read at a time. */
  private async *blobFiles(): AsyncGenerator<{ key: string; path: string }> {
    const fanOut = /^[0-9a-f]{2}$/;
    for (const first of (await readdir(this.root)).filter((name) => fanOut.test(name)).sort()) {
      const firstDir = join(this.root, first);
      for (const second of (await readdir(firstDir)).filter((name) => fanOut.test(name)).sort()) {
        const secondDir = join(firstDir, second);
        for (const name of (await readdir(secondDir)).sort()) {
          if (KEY.test(name) && name.startsWith(first + second))
            yield { key: name, path: join(secondDir, name) };
        }
      }
    }
  }
}

/** Flushes a file's (or a directory's) data and metadata to the device. */
async function syncFile(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function isNotFound(error: unknown): boolean {
  return (error as { code?: unknown }).code === 'ENOENT';
}
