import type { FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { createBlake3, type IncrementalHash } from '@artifactstore/codec';
import { IntegrityError } from './dataplane.errors.js';
import { DIRECT_IO_ALIGNMENT, type AlignedBufferPool } from './direct-io.js';
import { readAt } from './read-at.js';

export interface VerifiedSendOptions {
  /** Bytes per read and per write, at most the pool's buffer size; a multiple of DIRECT_IO_ALIGNMENT when direct. */
  readonly chunkSize: number;
  /** Reads in flight at most, the one awaited included. */
  readonly readsInFlight: number;
  /**
   * Pooled buffers one send holds at most: its reads in flight, the chunk held back, and the writes the destination
   * has not completed. At least readsInFlight + 2, so that a write can be outstanding while reads go on.
   */
  readonly buffers: number;
  /** Where the read buffers come from, and go back to once the destination is done with them. */
  readonly pool: AlignedBufferPool;
  /** `handle` was opened with O_DIRECT. */
  readonly direct: boolean;
}

/** What the file is supposed to hold, and its name for messages. */
export interface ExpectedBlob {
  readonly blake3: Buffer;
  readonly size: number;
  readonly key: string;
}

/** Bytes `start` to `end` (both included) of a blob at least `end + 1` bytes long, and its name for messages. */
export interface BlobRange {
  readonly start: number;
  readonly end: number;
  readonly key: string;
}

/**
 * What one send reads: bytes `start` to `endExclusive` of the blob `key`, checked against `blake3` when given (a
 * whole blob, `start` 0 and `endExclusive` its size), sent as they are otherwise.
 */
interface SendPlan {
  readonly key: string;
  readonly start: number;
  readonly endExclusive: number;
  readonly blake3?: Buffer;
}

interface Chunk {
  readonly buffer: Buffer;
  readonly length: number;
}

interface PendingRead {
  /** File offset the read started at. */
  readonly offset: number;
  readonly requested: number;
  readonly done: Promise<Chunk>;
}

/**
 * Writes a whole file to `destination` and ends it, verified as `VerifiedFileStream` verifies: hashed with BLAKE3
 * as it is read, one chunk always held back, and the last bytes written only once the digest and size matched.
 *
 * Why not the stream: a stream pushes buffers it no longer owns, so every chunk needs fresh memory, whose pages the
 * kernel must fault in and zero. Here each chunk is read into a pooled buffer and written from it; the buffer goes
 * back to the pool when the destination calls the write back, i.e. once a socket has handed the bytes to the
 * kernel. The number of pooled buffers is the back-pressure: no read starts while `buffers` are taken.
 *
 * Resolves when the destination has finished. Rejects with an IntegrityError on a corrupt file and with the read's
 * error on a failed read, the last chunk never written: the destination is then destroyed with that error once
 * what was written before has gone out, or, if nothing was written, left as it is for the caller to answer. Rejects
 * as `stream.finished` does (ERR_STREAM_PREMATURE_CLOSE) when the destination closes first. Owns `handle` and
 * closes it in every case, after its reads in flight.
 */
export async function sendVerifiedFile(
  handle: FileHandle,
  destination: Writable,
  expected: ExpectedBlob,
  options: VerifiedSendOptions,
): Promise<void> {
  await checkOptions(handle, options);
  const plan = { key: expected.key, start: 0, endExclusive: expected.size, blake3: expected.blake3 };
  await new FileSender(handle, destination, plan, options).run();
}

/**
 * Writes a range of a file to `destination` and ends it, from pooled buffers as `sendVerifiedFile` does, and
 * unverified: a range is not the whole blob, so there is no digest to check it against (HTTP range requests are
 * answered so, see the README). With a direct handle the reads start at the block below `range.start` and cover
 * whole blocks; only the range's bytes are written. A file that ends before the range does fails with an
 * IntegrityError. Errors, the destination and `handle` are handled as `sendVerifiedFile` handles them.
 */
export async function sendFileRange(
  handle: FileHandle,
  destination: Writable,
  range: BlobRange,
  options: VerifiedSendOptions,
): Promise<void> {
  await checkOptions(handle, options);
  if (
    !Number.isSafeInteger(range.start) ||
    !Number.isSafeInteger(range.end) ||
    range.start < 0 ||
    range.end < range.start
  ) {
    await handle.close().catch(() => undefined);
    throw new RangeError(`bytes ${range.start}-${range.end} are not a range`);
  }
  const plan = { key: range.key, start: range.start, endExclusive: range.end + 1 };
  await new FileSender(handle, destination, plan, options).run();
}

async function checkOptions(handle: FileHandle, options: VerifiedSendOptions): Promise<void> {
  if (
    !Number.isSafeInteger(options.chunkSize) ||
    options.chunkSize < 1 ||
    options.chunkSize > options.pool.bufferSize ||
    (options.direct && options.chunkSize % DIRECT_IO_ALIGNMENT !== 0) ||
    options.readsInFlight < 1 ||
    options.buffers < options.readsInFlight + 2
  ) {
    await handle.close().catch(() => undefined);
    throw new RangeError(
      "a verified send needs a chunk size up to its buffers' size, at least one read in flight and two buffers " +
        'more than reads',
    );
  }
}

class FileSender {
  /** The running digest and the one it must reach; undefined for a range. */
  private readonly verify: { readonly hash: IncrementalHash; readonly blake3: Buffer } | undefined;
  private readonly reads: PendingRead[] = [];
  /** File offset of the next read to start. */
  private position: number;
  /**
   * Where reads stop: one byte past a verified blob's expected end (so that a longer file shows), the range's end
   * otherwise.
   */
  private readonly limit: number;
  /** Bytes hashed so far. */
  private size = 0;
  /** Set once a short read showed the end of the file: no more reads start. */
  private ended = false;
  private held: Chunk | undefined;
  /** Pooled buffers taken and not given back: reads in flight, the held chunk, writes not yet called back. */
  private taken = 0;
  /** Set by the first write. */
  private wrote = false;
  /** Writes handed to the destination and not yet called back. */
  private writing = 0;
  /** Set once the destination closed or failed before it finished. */
  private gone = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly handle: FileHandle,
    private readonly destination: Writable,
    private readonly plan: SendPlan,
    private readonly options: VerifiedSendOptions,
  ) {
    this.verify = plan.blake3 ? { hash: createBlake3(), blake3: plan.blake3 } : undefined;
    this.position = options.direct ? plan.start - (plan.start % DIRECT_IO_ALIGNMENT) : plan.start;
    this.limit = this.verify ? plan.endExclusive + 1 : plan.endExclusive;
  }

  async run(): Promise<void> {
    const finishedWriting = finished(this.destination);
    finishedWriting.catch(() => {
      this.gone = true;
      this.wakeUp();
    });
    try {
      await this.transfer(finishedWriting);
      this.destination.end();
      await finishedWriting;
    } catch (error) {
      // Nothing written yet: the destination is left to the caller, which can still answer with an error (an HTTP
      // response has not sent its headers). Otherwise what was written goes out first, so that the client sees
      // the response start and stop short rather than a reset before it; the chunk held back never does.
      if (this.wrote) {
        while (this.writing > 0 && !this.gone) await new Promise<void>((resolve) => (this.wake = resolve));
        if (!this.destination.destroyed) this.destination.destroy(error as Error);
      }
      throw error;
    } finally {
      await this.cleanUp();
    }
  }

  private async transfer(finishedWriting: Promise<void>): Promise<void> {
    for (;;) {
      this.startReads();
      while (this.reads.length === 0) {
        // Every buffer is out in a write: wait until the destination hands one back.
        if (this.gone) return finishedWriting; // rejects with why the destination is gone
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.startReads();
      }
      const next = this.reads.shift() as PendingRead;
      const chunk = await next.done;
      if (this.gone) {
        this.give(chunk);
        return finishedWriting;
      }
      if (chunk.length < next.requested) this.ended = true;
      // The next reads run while this chunk is hashed.
      this.startReads();
      const { verify } = this;
      if (verify === undefined) {
        if (this.sendPart(next.offset, chunk)) return;
        continue;
      }
      this.size += chunk.length;
      if (this.size > this.plan.endExclusive) {
        this.give(chunk);
        throw this.corrupt();
      }
      verify.hash.update(chunk.buffer.subarray(0, chunk.length));
      const release = this.held;
      this.held = chunk;
      if (this.ended) {
        const digest = verify.hash.digest();
        if (this.size !== this.plan.endExclusive || !digest.equals(verify.blake3)) {
          if (release !== undefined) this.give(release);
          throw this.corrupt(digest);
        }
        this.held = undefined;
        if (release !== undefined) this.write(release);
        this.write(chunk);
        return;
      }
      if (release !== undefined) this.write(release);
    }
  }

  /**
   * Writes the part of a range's chunk that lies in the range; true once the range's last byte is written. A
   * chunk that ends short of the range means the file does.
   */
  private sendPart(offset: number, chunk: Chunk): boolean {
    const end = offset + chunk.length;
    if (end < this.plan.endExclusive && this.ended) {
      this.give(chunk);
      throw new IntegrityError(
        `blob ${this.plan.key} is corrupt: it ends after ${end} bytes, ` +
          `inside the range read up to byte ${this.plan.endExclusive - 1}`,
      );
    }
    this.write(
      chunk,
      Math.max(0, this.plan.start - offset),
      Math.min(chunk.length, this.plan.endExclusive - offset),
    );
    return end >= this.plan.endExclusive;
  }

  /**
   * Tops up the reads in flight while buffers are free. A verified send's reads ask for up to one byte past the
   * expected end, so that the last one comes back short and shows the end of the file (or, full, that the file is
   * longer); a range's stop at its end.
   */
  private startReads(): void {
    while (
      !this.ended &&
      this.reads.length < this.options.readsInFlight &&
      this.taken < this.options.buffers &&
      this.position < this.limit
    ) {
      const requested = Math.min(this.options.chunkSize, this.limit - this.position);
      const buffer = this.options.pool.take();
      this.taken++;
      const done = readAt(this.handle, buffer, requested, this.position, this.options.direct).then(
        (length) => ({ buffer, length }),
        (error: unknown) => {
          this.give({ buffer, length: 0 });
          throw error;
        },
      );
      done.catch(() => undefined); // awaited in turn; handled now so it is never an unhandled rejection
      this.reads.push({ offset: this.position, requested, done });
      this.position += requested;
    }
  }

  /**
   * Writes bytes `from` to `to` of a chunk (all of it by default); its buffer goes back to the pool when the
   * destination calls back, whether or not it failed.
   */
  private write(chunk: Chunk, from = 0, to = chunk.length): void {
    if (to <= from) {
      this.give(chunk);
      return;
    }
    this.wrote = true;
    this.writing++;
    this.destination.write(chunk.buffer.subarray(from, to), () => {
      this.writing--;
      this.give(chunk);
      this.wakeUp();
    });
  }

  private give(chunk: Chunk): void {
    this.taken--;
    this.options.pool.give(chunk.buffer);
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** The file may close only after its reads in flight have settled; a close failure is of no use to anyone. */
  private async cleanUp(): Promise<void> {
    if (this.held !== undefined) this.give(this.held);
    this.held = undefined;
    const reads = this.reads.splice(0).map((read) =>
      read.done.then(
        (chunk) => {
          this.give(chunk);
        },
        () => undefined,
      ),
    );
    await Promise.all(reads);
    await this.handle.close().catch(() => undefined);
  }

  private corrupt(digest?: Buffer): IntegrityError {
    const what = digest
      ? `${this.size} bytes with BLAKE3 ${digest.toString('hex')}`
      : `over ${this.size - 1} bytes`;
    return new IntegrityError(
      `blob ${this.plan.key} is corrupt: read ${what} (expected ${this.plan.endExclusive} bytes)`,
    );
  }
}
