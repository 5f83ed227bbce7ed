import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import {
  DIRECT_IO_ALIGNMENT,
  DIRECT_IO_BUFFER,
  directIoBuffers as pool,
  isInvalidArgument,
  O_DIRECT,
} from './direct-io.js';
import { storageError } from './ingest-checks.js';

/** Bytes per write: 1 MiB writes were measured markedly faster than writing each 64 KiB chunk as it comes. */
export const WRITE_BLOCK = DIRECT_IO_BUFFER;
/** Writes in flight: the device works on one block while the next is handed over and a third fills and is hashed. */
const WRITES_IN_FLIGHT = 2;

/** Whether a store writes with O_DIRECT; it turns itself off when the filesystem refuses it. */
export class DirectIoSwitch {
  constructor(public enabled: boolean) {}
}

export type OpenFile = (path: string, flags: number) => Promise<FileHandle>;

export const directIoAvailable = O_DIRECT !== undefined;

/**
 * The temp file of one ingest, written in 1 MiB blocks at explicit offsets, with up to two writes in flight while
 * the caller hashes the next chunk. `push` waits while both are busy, which is the back-pressure.
 *
 * With direct I/O (O_DIRECT) each block goes from a page-aligned buffer to the device without being copied into the
 * page cache first. On the machines measured here that copy, not hashing, was the largest cost of an upload (see
 * docs/benchmarks.md and ADR 0007), and a finished blob is rarely read back soon, so caching it would only push out
 * pages that are in use. The last block is padded to the alignment and the file truncated to its size afterwards.
 * A filesystem that refuses O_DIRECT at open (tmpfs on older kernels) or at a write (EINVAL) gets buffered writes
 * instead, and the switch remembers it for later ingests.
 */
export class BlobFileWriter {
  private filling: Buffer;
  private filled = 0;
  /** Offset of the filling buffer's first byte: every byte before it is written or being written. */
  private position = 0;
  private readonly writes = new Set<Promise<void>>();
  private failure: { error: unknown } | undefined;
  private buffered: Promise<FileHandle> | undefined;

  private constructor(
    private readonly path: string,
    private readonly handle: FileHandle,
    private direct: boolean,
    private readonly directIo: DirectIoSwitch,
    private readonly openFile: OpenFile,
  ) {
    this.filling = pool.take();
  }

  /** Creates the file (it must not exist) and a writer for it; `openFile` is a seam for tests. */
  static async create(
    path: string,
    directIo: DirectIoSwitch,
    openFile: OpenFile = open,
  ): Promise<BlobFileWriter> {
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;
    if (directIo.enabled && O_DIRECT !== undefined) {
      try {
        return new BlobFileWriter(path, await openFile(path, flags | O_DIRECT), true, directIo, openFile);
      } catch (error) {
        if (!isInvalidArgument(error)) throw storageError('cannot create a temp file', error);
        directIo.enabled = false;
      }
    }
    const handle = await openFile(path, flags).catch((error: unknown) => {
      throw storageError('cannot create a temp file', error);
    });
    return new BlobFileWriter(path, handle, false, directIo, openFile);
  }

  async push(chunk: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < chunk.length) {
      const count = Math.min(chunk.length - offset, WRITE_BLOCK - this.filled);
      this.filling.set(chunk.subarray(offset, offset + count), this.filled);
      this.filled += count;
      offset += count;
      if (this.filled === WRITE_BLOCK) {
        while (this.writes.size >= WRITES_IN_FLIGHT) await Promise.race(this.writes);
        this.throwIfFailed();
        this.startWrite(this.filling, WRITE_BLOCK, this.position);
        this.position += WRITE_BLOCK;
        this.filling = pool.take();
        this.filled = 0;
      }
    }
  }

  /** Writes the rest, waits for every write and gives the file its exact size, which it returns. */
  async finish(): Promise<number> {
    await this.settle();
    this.throwIfFailed();
    const size = this.position + this.filled;
    if (this.filled > 0) {
      const length = this.direct ? roundUp(this.filled, DIRECT_IO_ALIGNMENT) : this.filled;
      this.filling.fill(0, this.filled, length);
      await this.writeAt(this.filling, length, this.position);
      if (length !== this.filled) {
        await this.handle.truncate(size).catch((error: unknown) => {
          throw storageError('truncate failed', error);
        });
      }
    }
    this.position = size;
    this.filled = 0;
    return size;
  }

  /** Flushes the file's data and size to the device (fsync covers the inode, whichever descriptor wrote). */
  async sync(): Promise<void> {
    await this.handle.sync().catch((error: unknown) => {
      throw storageError('fsync failed', error);
    });
  }

  /** Waits for the writes in flight, whatever their outcome, then closes the file; the buffers go back. */
  async close(): Promise<void> {
    await this.settle();
    pool.give(this.filling);
    const buffered = await this.buffered?.catch(() => undefined);
    await Promise.all([this.handle.close(), buffered?.close()]);
  }

  private async settle(): Promise<void> {
    await Promise.all(this.writes);
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.error;
  }

  private startWrite(buffer: Buffer, length: number, position: number): void {
    const write = this.writeAt(buffer, length, position).then(
      () => {
        pool.give(buffer);
      },
      (error: unknown) => {
        this.failure ??= { error };
      },
    );
    this.writes.add(write);
    void write.finally(() => this.writes.delete(write));
  }

  private async writeAt(buffer: Buffer, length: number, position: number): Promise<void> {
    let done = 0;
    while (done < length) {
      const handle = this.direct ? this.handle : await (this.buffered ?? this.handle);
      try {
        const { bytesWritten } = await handle.write(buffer, done, length - done, position + done);
        done += bytesWritten;
      } catch (error) {
        if (!(this.direct && isInvalidArgument(error))) throw storageError('write failed', error);
        // The filesystem took O_DIRECT at open but not this write: go on through the page cache.
        this.direct = false;
        this.directIo.enabled = false;
        this.buffered ??= this.openFile(this.path, constants.O_WRONLY);
        await this.buffered.catch((openError: unknown) => {
          throw storageError('cannot reopen the temp file', openError);
        });
      }
    }
  }
}

function roundUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}
