import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { createBlake3, type IncrementalHash } from '@artifactstore/codec';
import { DIRECT_IO_ALIGNMENT, DIRECT_IO_BUFFER, directIoBuffers } from './direct-io.js';
import { IntegrityError } from './dataplane.errors.js';
import { readAt } from './read-at.js';

export interface VerifiedFileStreamOptions {
  /** Bytes per read and per chunk pushed. */
  readonly chunkSize: number;
  /** Reads in flight at most, the one awaited included: 2 keeps one read going while a chunk is hashed. */
  readonly readsInFlight: number;
  /**
   * `handle` was opened with O_DIRECT: reads go to page-aligned buffers at aligned offsets and lengths (chunkSize
   * must be a multiple of DIRECT_IO_ALIGNMENT).
   */
  readonly direct?: boolean;
}

interface PendingRead {
  readonly requested: number;
  readonly done: Promise<Buffer>;
}

/**
 * A whole file as a readable stream, verified against its BLAKE3 digest and size as it goes, always one chunk
 * behind: the last chunk is released only once the digest and size matched, so a corrupted, truncated or
 * extended file fails with an IntegrityError before the reader has it in full.
 *
 * Reads are positional (`pread`) into a fresh buffer each (a pushed buffer belongs to the reader), and up to
 * `readsInFlight` of them run on the thread pool while the main thread hashes and pushes the chunk before:
 * reading and hashing overlap instead of taking turns. Back-pressure: no new read starts while the readable
 * buffer is full, so memory stays at `readsInFlight` chunks being read, one held back, and the readable buffer.
 * The stream owns `handle` and closes it when it ends, fails or is destroyed, after its reads in flight.
 */
export class VerifiedFileStream extends Readable {
  private readonly hash: IncrementalHash = createBlake3();
  private readonly pending: PendingRead[] = [];
  /** The read `pump` is waiting for, out of `pending` but maybe still in flight. */
  private awaited: Promise<Buffer> | undefined;
  /** File offset of the next read to start. */
  private position = 0;
  /** Bytes hashed so far. */
  private size = 0;
  private held: Buffer | undefined;
  private looping = false;
  /** Set once a short read showed the end of the file: no more reads start. */
  private ended = false;

  constructor(
    private readonly handle: FileHandle,
    private readonly expectedBlake3: Buffer,
    private readonly expectedSize: number,
    private readonly key: string,
    private readonly options: VerifiedFileStreamOptions,
  ) {
    super({ highWaterMark: options.chunkSize });
    if (
      options.direct &&
      (options.chunkSize % DIRECT_IO_ALIGNMENT !== 0 || options.chunkSize > DIRECT_IO_BUFFER)
    ) {
      throw new RangeError(
        `a direct read's chunk size must be a multiple of ${DIRECT_IO_ALIGNMENT} up to ${DIRECT_IO_BUFFER}`,
      );
    }
  }

  override _read(): void {
    if (this.looping) return;
    this.looping = true;
    this.pump().catch((error: unknown) => {
      this.looping = false;
      this.destroy(error instanceof Error ? error : new Error(String(error)));
    });
  }

  /**
   * Hashes and pushes chunks as their reads complete until the reader has enough or the file has ended. Clears
   * `looping` in the same tick as the push that filled the buffer, so the next `_read` starts a new pump.
   */
  private async pump(): Promise<void> {
    for (;;) {
      this.startReads();
      const next = this.pending.shift();
      if (next === undefined) throw new Error('no read in flight'); // startReads keeps one until the end
      this.awaited = next.done;
      const chunk = await next.done;
      if (this.destroyed) return;
      if (chunk.length < next.requested) this.ended = true;
      // The next reads run while this chunk is hashed and pushed.
      this.startReads();
      this.size += chunk.length;
      if (this.size > this.expectedSize) throw this.corrupt();
      this.hash.update(chunk);
      const release = this.held;
      this.held = chunk;
      if (this.ended) {
        this.finishVerified(release);
        return;
      }
      if (release !== undefined && !this.push(release)) {
        this.looping = false;
        return;
      }
    }
  }

  /**
   * Tops up the reads in flight. Each asks for up to one byte past the expected end, so that the last one comes
   * back short and shows the end of the file (or, full, that the file is longer than it should be).
   */
  private startReads(): void {
    while (
      !this.ended &&
      this.pending.length < this.options.readsInFlight &&
      this.position <= this.expectedSize
    ) {
      const requested = Math.min(this.options.chunkSize, this.expectedSize - this.position + 1);
      const done = (this.options.direct ? readDirect : readFully)(this.handle, requested, this.position);
      done.catch(() => undefined); // awaited in turn; handled now so it is never an unhandled rejection
      this.pending.push({ requested, done });
      this.position += requested;
    }
  }

  /** Releases the last bytes (the chunk before a short last read, and that read's bytes) only if they verify. */
  private finishVerified(beforeLast: Buffer | undefined): void {
    const digest = this.hash.digest();
    if (this.size !== this.expectedSize || !digest.equals(this.expectedBlake3)) {
      this.destroy(this.corrupt(digest));
      return;
    }
    for (const chunk of [beforeLast, this.held])
      if (chunk !== undefined && chunk.length > 0) this.push(chunk);
    this.held = undefined;
    this.push(null);
  }

  private corrupt(digest?: Buffer): IntegrityError {
    const what = digest
      ? `${this.size} bytes with BLAKE3 ${digest.toString('hex')}`
      : `over ${this.size - 1} bytes`;
    return new IntegrityError(
      `blob ${this.key} is corrupt: read ${what} (expected ${this.expectedSize} bytes)`,
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.held = undefined;
    const reads = this.pending.splice(0).map((read) => read.done);
    if (this.awaited) reads.push(this.awaited);
    const inFlight = reads.map((read) => read.catch(() => undefined));
    // The file may close only after its reads in flight have settled; a close failure is of no use to anyone.
    void Promise.all(inFlight)
      .then(() => this.handle.close())
      .catch(() => undefined)
      .then(() => {
        callback(error);
      });
  }
}

/**
 * `length` bytes at `position` (aligned) through O_DIRECT, fewer only at the end of the file. The read fills a
 * pooled page-aligned buffer and copies the bytes out into a buffer of their own (a pushed buffer belongs to the
 * reader): measured, that copy costs less than fresh aligned memory per read, whose pages the kernel must first
 * fault in and zero. (`sendVerifiedFile` writes from the pooled buffer itself and needs no copy.)
 */
async function readDirect(handle: FileHandle, length: number, position: number): Promise<Buffer> {
  const buffer = directIoBuffers.take();
  try {
    const filled = await readAt(handle, buffer, length, position, true);
    return Buffer.from(buffer.subarray(0, filled));
  } finally {
    directIoBuffers.give(buffer);
  }
}

/** `length` bytes at `position`, fewer only at the end of the file. */
async function readFully(handle: FileHandle, length: number, position: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafeSlow(length); // its own memory, never a slice of the shared pool
  const filled = await readAt(handle, buffer, length, position, false);
  return filled === length ? buffer : buffer.subarray(0, filled);
}
