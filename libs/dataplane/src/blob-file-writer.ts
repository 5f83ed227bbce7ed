import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { DIRECT_IO_ALIGNMENT, ioBuffers, O_DIRECT } from './direct-io.js';
import { storageError } from './ingest-checks.js';

/**
 * Bytes per write, one pooled buffer: blocks of 1 MiB and more were measured markedly faster than writing each
 * 64 KiB chunk as it comes.
 */
export const WRITE_BLOCK = ioBuffers.bufferSize;
/** Writes in flight: the device works on one block while the next is handed over and a third fills and is hashed. */
const WRITES_IN_FLIGHT = 2;

export type OpenFile = (path: string, flags: number) => Promise<FileHandle>;

/**
 * The temp file of one ingest, written in 2 MiB blocks at explicit offsets, with up to two writes in flight while
 * the caller hashes the next chunk. `push` waits while both are busy, which is the back-pressure.
 *
 * With `direct` (O_DIRECT) each block goes from a page-aligned buffer to the device without a copy into the page
 * cache; the last block is padded to the alignment and the file truncated to its size afterwards. Whether a store
 * writes direct is decided once, when it starts (`takesDirectWrites`), never in the middle of a file.
 */
export class BlobFileWriter {
  private filling: Buffer = ioBuffers.take();
  private filled = 0;
  /** Offset of the filling buffer's first byte: every byte before it is written or being written. */
  private position = 0;
  private readonly writes = new Set<Promise<void>>();
  private failure: { error: unknown } | undefined;

  private constructor(
    private readonly handle: FileHandle,
    private readonly direct: boolean,
  ) {}

  /**
   * Creates the file (it must not exist) and a writer for it; `openFile` is a seam for tests, and lets a resumable
   * upload open its existing file instead, to write from `start` (aligned when `direct`) on.
   */
  static async create(
    path: string,
    direct: boolean,
    openFile: OpenFile = open,
    start = 0,
  ): Promise<BlobFileWriter> {
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (direct ? (O_DIRECT ?? 0) : 0);
    const handle = await openFile(path, flags).catch((error: unknown) => {
      throw storageError('cannot create a temp file', error);
    });
    const writer = new BlobFileWriter(handle, direct);
    writer.position = start;
    return writer;
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
        this.startWrite(this.filling, this.position);
        this.position += WRITE_BLOCK;
        this.filling = ioBuffers.take();
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

  /** Flushes the file's data and size to the device. */
  async sync(): Promise<void> {
    await this.handle.sync().catch((error: unknown) => {
      throw storageError('fsync failed', error);
    });
  }

  /** Waits for the writes in flight, whatever their outcome, then closes the file; the buffers go back. */
  async close(): Promise<void> {
    await this.settle();
    ioBuffers.give(this.filling);
    await this.handle.close();
  }

  private async settle(): Promise<void> {
    await Promise.all(this.writes);
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.error;
  }

  private startWrite(buffer: Buffer, position: number): void {
    const write = this.writeAt(buffer, WRITE_BLOCK, position).then(
      () => {
        ioBuffers.give(buffer);
      },
      (error: unknown) => {
        this.failure ??= { error };
      },
    );
    this.writes.add(write);
    void write.finally(() => this.writes.delete(write));
  }

  private async writeAt(buffer: Buffer, length: number, position: number): Promise<void> {
    for (let done = 0; done < length;) {
      const { bytesWritten } = await this.handle
        .write(buffer, done, length - done, position + done)
        .catch((error: unknown) => {
          throw storageError('write failed', error);
        });
      done += bytesWritten;
    }
  }
}

function roundUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}
