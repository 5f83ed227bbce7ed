import { constants, createReadStream } from 'node:fs';
import {
  type FileHandle,
  link,
  mkdir,
  open,
  readFile,
  readdir,
  rename,
  rm,
  stat,
  utimes,
} from 'node:fs/promises';
import { join } from 'node:path';
import type { DualDigests } from '@artifactstore/codec';
import type { BlobStore, IngestReceipt } from './blob-store.js';
import { BlobFileWriter } from './blob-file-writer.js';
import { DataplaneError } from './dataplane.errors.js';
import { DIRECT_IO_ALIGNMENT } from './direct-io.js';
import { FsBlobStore } from './fs-blob-store.js';
import { storageError } from './ingest-checks.js';
import { tempFileName, thisProcessOwner } from './temp-file-owner.js';
import { UPLOAD_ID, UploadStaging, type StagedUploadState } from './upload-staging.js';

/** Bytes per read of staged bytes. */
const READ_CHUNK = 2 << 20;

/**
 * Resumable uploads as folders `<blobs>/uploads/<id>/` holding `info.json` (the document), `data` (the bytes, in
 * order: its size is the offset) and, once attached, `completed.json`. `uploads` is not a blob fan-out folder
 * (two hex digits), so the store's listings never see it. At completion `data` is hard-linked into the store's
 * temp folder as an ingest's temp file would be, and placed from there by `ensureStored`: no byte is copied.
 */
export class FsUploadStaging extends UploadStaging {
  private readonly uploadsDir: string;
  private readonly tempDir: string;

  constructor(
    private readonly store: BlobStore,
    /** The FsBlobStore's root (`<data>/blobs`). */
    root: string,
  ) {
    super();
    this.uploadsDir = join(root, 'uploads');
    this.tempDir = join(root, 'tmp');
  }

  async create(id: string, document: string): Promise<void> {
    const dir = this.dirOf(id);
    try {
      await mkdir(this.uploadsDir, { recursive: true });
      await mkdir(dir);
      await writeDurably(join(dir, 'data'), '');
      await writeDurably(join(dir, 'info.json'), document);
      await syncPath(dir);
    } catch (error) {
      throw storageError(`cannot create upload ${id}`, error);
    }
  }

  async state(id: string): Promise<StagedUploadState | undefined> {
    if (!UPLOAD_ID.test(id)) return undefined;
    const dir = this.dirOf(id);
    try {
      const infoPath = join(dir, 'info.json');
      const [document, info] = await Promise.all([readFile(infoPath, 'utf8'), stat(infoPath)]);
      const data = await stat(join(dir, 'data')).catch(orUndefinedWhenMissing);
      const completion = await readFile(join(dir, 'completed.json'), 'utf8').catch(orUndefinedWhenMissing);
      return {
        document,
        offset: data?.size ?? 0,
        touchedAt: Math.floor(Math.max(info.mtimeMs, data?.mtimeMs ?? 0)),
        ...(completion === undefined ? {} : { completion }),
      };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw storageError(`cannot read upload ${id}`, error);
    }
  }

  /**
   * Writes as an ingest writes its temp file (BlobFileWriter: 2 MiB blocks, two in flight, O_DIRECT when the store
   * uses it), from the aligned offset at or before `offset`: the few staged bytes before `offset` in that block are
   * read back and written again, so that every PATCH, wherever the last one ended, writes aligned blocks past the
   * page cache: they are on the device when the PATCH is answered. The file's size is not fsynced per PATCH (that
   * cost a quarter of the throughput in 8 MiB PATCHes): after a machine crash the file may be shorter than an
   * offset a client was told (a journaling filesystem commits a size only after the data it covers), and HEAD then
   * says where to continue. The whole file is synced before it is placed as a blob (`ensureStored`).
   */
  async append(id: string, offset: number, chunks: AsyncIterable<Uint8Array>): Promise<number> {
    const path = join(this.dirOf(id), 'data');
    const direct = this.store instanceof FsBlobStore && this.store.writesDirect;
    const start = direct ? offset - (offset % DIRECT_IO_ALIGNMENT) : offset;
    let writer: BlobFileWriter | undefined;
    let sourceError: { error: unknown } | undefined;
    let size: number;
    try {
      const head = start < offset ? await readRange(path, start, offset) : undefined;
      writer = await BlobFileWriter.create(path, direct, openExisting, start);
      if (head) await writer.push(head);
      try {
        for await (const chunk of chunks) await writer.push(chunk);
      } catch (error) {
        if (error instanceof DataplaneError && error.code === 'storage_error') throw error;
        sourceError = { error };
      }
      size = await writer.finish();
    } catch (error) {
      throw error instanceof DataplaneError ? error : storageError(`cannot write upload ${id}`, error);
    } finally {
      await writer?.close().catch(() => undefined);
    }
    if (sourceError) throw sourceError.error;
    return size;
  }

  async truncate(id: string, offset: number): Promise<void> {
    const handle = await open(join(this.dirOf(id), 'data'), 'r+');
    try {
      await handle.truncate(offset);
      await handle.sync();
    } catch (error) {
      throw storageError(`cannot truncate upload ${id}`, error);
    } finally {
      await handle.close();
    }
  }

  async *read(id: string): AsyncGenerator<Uint8Array> {
    const stream = createReadStream(join(this.dirOf(id), 'data'), { highWaterMark: READ_CHUNK });
    try {
      for await (const chunk of stream) yield chunk as Buffer;
    } catch (error) {
      throw storageError(`cannot read upload ${id}`, error);
    }
  }

  async complete(id: string, digests: DualDigests): Promise<IngestReceipt> {
    const staging = join(this.tempDir, tempFileName(thisProcessOwner()));
    try {
      await link(join(this.dirOf(id), 'data'), staging);
      // A temp file untouched for an hour is a sweep's; this one is young, whenever its last byte came.
      const now = new Date();
      await utimes(staging, now, now);
    } catch (error) {
      throw storageError(`cannot stage upload ${id}`, error);
    }
    const receipt: IngestReceipt = {
      size: digests.size,
      blake3: digests.blake3,
      sha256: digests.sha256,
      backend: this.store.backend,
      key: digests.blake3.toString('hex'),
      staging,
    };
    try {
      await this.store.ensureStored(receipt);
    } catch (error) {
      await this.store.releaseStaging(receipt);
      throw error;
    }
    return receipt;
  }

  async markCompleted(id: string, completion: string): Promise<void> {
    const dir = this.dirOf(id);
    try {
      await writeDurably(join(dir, 'completed.json'), completion);
      await rm(join(dir, 'data'), { force: true });
    } catch (error) {
      throw storageError(`cannot mark upload ${id} completed`, error);
    }
  }

  async remove(id: string): Promise<void> {
    if (!UPLOAD_ID.test(id)) return;
    await rm(this.dirOf(id), { recursive: true, force: true }).catch((error: unknown) => {
      throw storageError(`cannot remove upload ${id}`, error);
    });
  }

  async *ids(): AsyncGenerator<string> {
    const names = await readdir(this.uploadsDir).catch((error: unknown) => {
      if (isNotFound(error)) return [];
      throw storageError(`cannot list ${this.uploadsDir}`, error);
    });
    yield* names.filter((name) => UPLOAD_ID.test(name));
  }

  private dirOf(id: string): string {
    if (!UPLOAD_ID.test(id)) throw new Error(`not an upload id: ${JSON.stringify(id)}`);
    return join(this.uploadsDir, id);
  }
}

/** Opens a resumable upload's existing data file with BlobFileWriter's flags, less the create. */
function openExisting(path: string, flags: number): Promise<FileHandle> {
  return open(path, flags & ~(constants.O_CREAT | constants.O_EXCL));
}

/** The bytes `from` to `to` (exclusive) of the file at `path`. */
async function readRange(path: string, from: number, to: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const bytes = Buffer.alloc(to - from);
    let done = 0;
    while (done < bytes.length) {
      const { bytesRead } = await handle.read(bytes, done, bytes.length - done, from + done);
      if (bytesRead === 0) throw new Error(`${path} ends before ${to}`);
      done += bytesRead;
    }
    return bytes;
  } finally {
    await handle.close();
  }
}

/** Writes `text` to `path` by a synced temp file renamed over it. */
async function writeDurably(path: string, text: string): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
}

async function syncPath(path: string): Promise<void> {
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

function orUndefinedWhenMissing(error: unknown): undefined {
  if (isNotFound(error)) return undefined;
  throw error;
}
