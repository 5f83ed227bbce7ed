import { constants, createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  BlobStore,
  type BlobStat,
  type ByteSource,
  type IngestOptions,
  type IngestReceipt,
  type OpenOptions,
  type StoredBlob,
} from './blob-store.js';
import { BlobFileWriter, directIoAvailable, DirectIoSwitch } from './blob-file-writer.js';
import { BlobNotFoundError, DataplaneError } from './dataplane.errors.js';
import { AlignedBufferPool, isInvalidArgument, O_DIRECT } from './direct-io.js';
import { hugePagesFor } from './huge-pages.js';
import { HashedSource, storageError } from './ingest-checks.js';
import { tempFileName, tempFileOwnerIsGone, thisProcessOwner } from './temp-file-owner.js';
import { sendFileRange, sendVerifiedFile, type VerifiedSendOptions } from './verified-file-sender.js';
import { VerifiedFileStream } from './verified-file-stream.js';

const KEY = /^[0-9a-f]{64}$/;

export interface FsBlobStoreOptions {
  /**
   * Write ingests with O_DIRECT, past the page cache (default true; Linux only; falls back by itself where the
   * filesystem refuses it). See BlobFileWriter.
   */
  readonly directIo?: boolean;
}
/** Read chunk size: 1 MiB chunks were measured markedly faster than Node's 64 KiB default. */
const READ_CHUNK = 1 << 20;
/** Reads in flight during a verified read: one runs on the thread pool while the chunk before is hashed. */
const READS_IN_FLIGHT = 2;
/**
 * A verified send (`send`) reads 2 MiB at a time with four reads in flight: with O_DIRECT on this VM that kept the
 * device busier than two 1 MiB reads (ADR 0009).
 */
const SEND_CHUNK = 2 << 20;
const SEND_READS_IN_FLIGHT = 4;
/** Buffers one send holds at most: its reads in flight, a chunk held back (verified sends), one write in progress. */
const SEND_BUFFERS = SEND_READS_IN_FLIGHT + 2;
/**
 * The sends' read buffers, shared by all downloads of the process: at most 32 MiB stay idle between them. One
 * buffer per slab: a slab's memory lives until every buffer cut from it is dropped, so with slabs of eight, the
 * buffers dropped past the idle limit during a burst of downloads kept whole slabs alive (32 concurrent 1 GiB GETs
 * peaked at 1,145 MiB RSS, against 540 with slabs of one; docs/benchmarks.md, session 8). On huge pages where the
 * machine has them (ADR 0010). Made at the first download, so that a process that sends none loads no addon.
 */
let sendBuffers: AlignedBufferPool | undefined;

function sendPool(): AlignedBufferPool {
  sendBuffers ??= new AlignedBufferPool(SEND_CHUNK, 1, 16, hugePagesFor(SEND_CHUNK));
  return sendBuffers;
}

/**
 * Whether downloads read into buffers on huge pages, and if not, why (the server logs it at startup). With huge
 * pages it takes one buffer and gives it back, so that the kernel has answered the advice.
 */
export function sendBuffersOnHugePages(): true | Error {
  const pool = sendPool();
  if (pool.onHugePages === true) pool.give(pool.take());
  return pool.onHugePages;
}

/**
 * A temp file untouched this long belongs to no live ingest (an ingest writes it continuously), whoever named it.
 */
const STALE_TEMP_MS = 60 * 60 * 1000;

/** Bytes `start` to `end` (both included) of a file, through the page cache. */
function rangeStream(path: string, start: number, end: number): Readable {
  return createReadStream(path, { start, end, highWaterMark: Math.min(READ_CHUNK, end - start + 1) });
}

function sendOptions(direct: boolean): VerifiedSendOptions {
  return {
    chunkSize: SEND_CHUNK,
    readsInFlight: SEND_READS_IN_FLIGHT,
    buffers: SEND_BUFFERS,
    pool: sendPool(),
    direct,
  };
}

/**
 * Blobs as files under `<root>/<aa>/<bb>/<blake3 hex>`. An ingest writes a temp file under `<root>/tmp/`, named for
 * its process (temp-file-owner.ts), on the same filesystem, fsyncs it, renames it into place and fsyncs the
 * directory, so a blob is absent or complete under its key; a crash leaves at most a temp file, which
 * `sweepTempFiles` removes at the next start (at once when its process is provably dead). Identical bytes land on the
 * same key: the second ingest finds the blob and drops its temp file (a race between two is harmless, since rename
 * replaces atomically with identical bytes).
 */
export class FsBlobStore extends BlobStore {
  readonly backend = 'fs';
  private readonly tempDir: string;
  private readonly directIo: DirectIoSwitch;

  constructor(
    private readonly root: string,
    options: FsBlobStoreOptions = {},
  ) {
    super();
    this.tempDir = join(root, 'tmp');
    this.directIo = new DirectIoSwitch((options.directIo ?? true) && directIoAvailable);
  }

  /** Whether ingests write with O_DIRECT: asked for, offered by the platform, and not refused by the filesystem. */
  get writesDirect(): boolean {
    return this.directIo.enabled;
  }

  /** Creates the folders and removes temp files left by a crash. */
  async init(): Promise<void> {
    await mkdir(this.tempDir, { recursive: true });
    await this.sweepTempFiles();
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
    const writer = await BlobFileWriter.create(tempPath, this.directIo);
    let closed = false;
    try {
      const hashed = new HashedSource(source, options);
      for await (const chunk of hashed.chunks()) await writer.push(chunk);
      await writer.finish();
      const { size, blake3, sha256 } = hashed.result();
      const key = blake3.toString('hex');
      const finalPath = this.pathOf(key);
      // Identical bytes already stored: this copy needs neither fsync nor rename.
      const duplicate = await this.exists(key);
      if (!duplicate) await writer.sync();
      closed = true;
      await writer.close();
      if (duplicate) {
        await rm(tempPath, { force: true });
      } else {
        await mkdir(dirname(finalPath), { recursive: true });
        await rename(tempPath, finalPath);
        await syncDirectory(dirname(finalPath));
      }
      return { size, blake3, sha256, backend: this.backend, key };
    } catch (error) {
      if (!closed) await writer.close().catch(() => undefined);
      await rm(tempPath, { force: true }).catch(() => undefined);
      throw error instanceof DataplaneError ? error : storageError('ingest failed', error);
    }
  }

  async open(key: string, options: OpenOptions = {}): Promise<Readable> {
    if (options.start === undefined && options.end === undefined) return this.openVerified(key);
    const path = this.pathOf(key);
    const info = await this.stat(key);
    if (!info) throw new BlobNotFoundError(key);
    const { start, end } = this.rangeWithin(options, info.size);
    return rangeStream(path, start, end);
  }

  override async send(key: string, destination: Writable, options: OpenOptions = {}): Promise<void> {
    if (options.start !== undefined || options.end !== undefined)
      return this.sendRange(key, destination, options);
    const { handle, direct, size } = await this.openWhole(key);
    await sendVerifiedFile(
      handle,
      destination,
      { blake3: Buffer.from(key, 'hex'), size, key },
      sendOptions(direct),
    );
  }

  /**
   * A range of at least SEND_CHUNK goes the way of a full read (pooled buffers, O_DIRECT while the store writes
   * with it), unverified; a smaller one streams from the page cache, where a range read again soon stays.
   */
  private async sendRange(key: string, destination: Writable, options: OpenOptions): Promise<void> {
    const info = await this.stat(key);
    if (!info) throw new BlobNotFoundError(key);
    const { start, end } = this.rangeWithin(options, info.size);
    if (end - start + 1 < SEND_CHUNK) return pipeline(rangeStream(this.pathOf(key), start, end), destination);
    const { handle, direct } = await this.openBlob(key);
    await sendFileRange(handle, destination, { start, end, key }, sendOptions(direct));
  }

  private async openVerified(key: string): Promise<Readable> {
    const { handle, direct, size } = await this.openWhole(key);
    return new VerifiedFileStream(handle, Buffer.from(key, 'hex'), size, key, {
      chunkSize: READ_CHUNK,
      readsInFlight: READS_IN_FLIGHT,
      direct,
    });
  }

  /** Opens a blob for a full read (`openForReading`) and takes its size; BlobNotFoundError when there is none. */
  private async openWhole(key: string): Promise<{ handle: FileHandle; direct: boolean; size: number }> {
    const { handle, direct } = await this.openBlob(key);
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw new BlobNotFoundError(key);
      return { handle, direct, size: info.size };
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw error instanceof DataplaneError ? error : storageError(`cannot stat blob ${key}`, error);
    }
  }

  /** `openForReading` by key; BlobNotFoundError when there is no such blob. */
  private async openBlob(key: string): Promise<{ handle: FileHandle; direct: boolean }> {
    return this.openForReading(this.pathOf(key)).catch((error: unknown) => {
      throw isNotFound(error) ? new BlobNotFoundError(key) : storageError(`cannot open blob ${key}`, error);
    });
  }

  /** Opens a blob for a large read: with O_DIRECT while this store writes with it, else through the page cache. */
  private async openForReading(path: string): Promise<{ handle: FileHandle; direct: boolean }> {
    if (this.directIo.enabled && O_DIRECT !== undefined) {
      try {
        return { handle: await open(path, constants.O_RDONLY | O_DIRECT), direct: true };
      } catch (error) {
        if (!isInvalidArgument(error)) throw error;
      }
    }
    return { handle: await open(path, 'r'), direct: false };
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
      if (info?.isFile()) yield { key, size: info.size };
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

async function syncDirectory(path: string): Promise<void> {
  const directory = await open(path, 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}

function isNotFound(error: unknown): boolean {
  return (error as { code?: unknown }).code === 'ENOENT';
}
