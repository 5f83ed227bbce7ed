import { Readable, type Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { verified } from './blob-verifier.js';
import { RangeNotSatisfiableError } from './dataplane.errors.js';

/** What a successful ingest stored: the bytes' size and digests, and where they are. */
export interface IngestReceipt {
  readonly size: number;
  /** BLAKE3 of the bytes, 32 bytes. */
  readonly blake3: Buffer;
  /** SHA-256 of the bytes, 32 bytes. */
  readonly sha256: Buffer;
  /** The backend's name, e.g. `fs`. */
  readonly backend: string;
  /** Where the bytes are in that backend: derived from the BLAKE3 digest, so identical bytes share one key. */
  readonly key: string;
  /**
   * The ingest's own copy of the bytes (fs: its temp file's path; S3: its staging object's key), opaque to callers.
   * It stays until `releaseStaging`, so that `ensureStored` can put the blob back should it be deleted meanwhile.
   */
  readonly staging: string;
}

export interface IngestOptions {
  /** The exact number of bytes the source will deliver. Fewer: IncompleteStreamError; more: SizeLimitExceededError. */
  readonly expectedSize?: number;
  readonly expectedSha256?: Uint8Array;
  readonly expectedBlake3?: Uint8Array;
  /** The most bytes accepted. */
  readonly maxSize?: number;
}

export interface OpenOptions {
  /** First byte, inclusive (default 0). */
  readonly start?: number;
  /** Last byte, inclusive (default the last byte of the blob). */
  readonly end?: number;
}

export interface BlobStat {
  readonly size: number;
}

/** A blob found by `listWithSizes`. */
export interface StoredBlob {
  readonly key: string;
  readonly size: number;
  /** When the blob was last written, in ms since the epoch (fs: mtime; S3: LastModified). */
  readonly modifiedAt: number;
}

/** Bytes that can be ingested: a Node readable, or any (async) iterable of byte chunks. */
export type ByteSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/**
 * Bytes of a blob as a backend reads them. `bytes` may be a view of a buffer the backend reuses: whoever takes the
 * chunk calls `release` (when there is one) once nothing uses the bytes any more, and not before.
 */
export interface BlobChunk {
  readonly bytes: Buffer;
  readonly release?: () => void;
}

/** What a backend's read gives: the blob's whole size, and the chunks of the bytes asked for, read as they are taken. */
export interface BlobRead {
  readonly size: number;
  readonly chunks: AsyncIterable<BlobChunk>;
}

/**
 * What `send` did. `bytesWritten` counts the bytes the destination took; with an `error`, the send stopped there
 * and left the destination as it was (neither ended nor destroyed), for the caller to decide what it gets next.
 */
export type SendOutcome =
  | { readonly ok: true; readonly bytesWritten: number }
  | { readonly ok: false; readonly bytesWritten: number; readonly error: Error };

/**
 * Content-addressed blob storage. Implementations guarantee: each byte is read once and both digests are
 * computed as it flows; memory stays bounded; a blob is either absent or complete under its key; a failed ingest
 * leaves nothing behind. Each backend reads in one way (`read`); `open` and `send` build on it the same way for
 * every backend, and pass every full read through the one verifier (`verified`). An abstract class rather than an
 * interface so that Nest can inject it by type.
 */
export abstract class BlobStore {
  abstract readonly backend: string;

  /**
   * Stores the bytes of `source`, hashing them with BLAKE3 and SHA-256 in the same pass. The receipt's staging copy
   * stays: call `releaseStaging` once the blob is committed (or abandoned), or it stays until a sweep removes it.
   */
  abstract ingest(source: ByteSource, options?: IngestOptions): Promise<IngestReceipt>;

  /**
   * Makes sure the receipt's blob is in storage: when it is missing (deleted since the ingest), puts it back, durably,
   * from the staging copy and returns true; returns false when it was there. Throws a StorageError when both the blob
   * and its staging copy are gone.
   */
  abstract ensureStored(receipt: IngestReceipt): Promise<boolean>;

  /**
   * Removes the receipt's staging copy. Idempotent, and never throws: a copy it fails to remove is a leftover that
   * the backend's sweep removes later.
   */
  abstract releaseStaging(receipt: IngestReceipt): Promise<void>;

  /**
   * The backend's one read: the blob's size and its bytes `options.start` to `options.end` (the whole blob without
   * them), unverified. BlobNotFoundError and RangeNotSatisfiableError (`rangeWithin`) are thrown here, before any
   * byte; the chunks are read only as they are taken, and whatever the read holds is let go when their iteration
   * ends, however it ends.
   */
  protected abstract read(key: string, options: OpenOptions): Promise<BlobRead>;

  /**
   * The bytes under `key`, as a stream of buffers of its own. Without a range, verified (`verified`): a damaged
   * blob fails with an IntegrityError, before its first byte when it is at most VERIFY_HOLD_BACK bytes long, before
   * its last VERIFY_HOLD_BACK bytes otherwise. A range is read without the rest of the blob and cannot be verified
   * on its own. BlobNotFoundError and RangeNotSatisfiableError are thrown before any byte.
   */
  async open(key: string, options: OpenOptions = {}): Promise<Readable> {
    const chunks = await this.chunks(key, options);
    return Readable.from(
      (async function* () {
        for await (const chunk of chunks) {
          if (!chunk.release) {
            yield chunk.bytes;
            continue;
          }
          // A pushed buffer belongs to the reader: the backend's buffer goes back once its bytes are copied out.
          const own = Buffer.from(chunk.bytes);
          chunk.release();
          yield own;
        }
      })(),
      { objectMode: false },
    );
  }

  /**
   * Writes the bytes `open` gives to `destination`, one write at a time, and ends it; resolves once it finished. Each
   * chunk is written from the backend's own buffer, given back once the destination has taken it. Every failure is
   * reported in the outcome with the bytes written before it, the same on every backend: a blob that is missing, a
   * range outside it, or damage found before the first byte leave the destination untouched; damage found later (a
   * blob longer than VERIFY_HOLD_BACK), a failed read or a destination that failed or closed first stop the send
   * where it was. The destination is never ended nor destroyed after a failure: that is the caller's decision (an
   * HTTP response answers with an error while nothing was written, and is cut short after).
   */
  async send(key: string, destination: Writable, options: OpenOptions = {}): Promise<SendOutcome> {
    let chunks: AsyncIterable<BlobChunk>;
    try {
      chunks = await this.chunks(key, options);
    } catch (error) {
      return { ok: false, bytesWritten: 0, error: asError(error) };
    }
    // Rejects when the destination fails or closes before it finished; resolves once it did.
    const destinationDone = finished(destination);
    destinationDone.catch(() => undefined);
    let bytesWritten = 0;
    try {
      for await (const chunk of chunks) {
        try {
          await Promise.race([writeOne(destination, chunk.bytes), destinationDone]);
        } finally {
          chunk.release?.();
        }
        bytesWritten += chunk.bytes.length;
      }
      destination.end();
      await destinationDone;
      return { ok: true, bytesWritten };
    } catch (error) {
      return { ok: false, bytesWritten, error: asError(error) };
    }
  }

  /** `read`'s chunks, through the verifier for a whole blob. */
  private async chunks(key: string, options: OpenOptions): Promise<AsyncIterable<BlobChunk>> {
    const { size, chunks } = await this.read(key, options);
    return options.start === undefined && options.end === undefined ? verified(chunks, key, size) : chunks;
  }

  abstract exists(key: string): Promise<boolean>;

  /** Size of the blob under `key`, or undefined when there is none. */
  abstract stat(key: string): Promise<BlobStat | undefined>;

  /** Removes the blob; returns whether there was one. */
  abstract delete(key: string): Promise<boolean>;

  /** Every key stored, in no particular order (for garbage collection and scrubbing). */
  abstract list(): AsyncIterable<string>;

  /**
   * Every blob stored with its size, in no particular order, read from the backend a page (or a folder) at a time:
   * never all keys in memory at once. A blob being deleted meanwhile may or may not be listed.
   */
  abstract listWithSizes(): AsyncIterable<StoredBlob>;

  /** The inclusive byte range `options` asks of a blob of `size` bytes; RangeNotSatisfiableError outside it. */
  protected rangeWithin(options: OpenOptions, size: number): { start: number; end: number } {
    const start = options.start ?? 0;
    const end = options.end ?? size - 1;
    if (
      !Number.isSafeInteger(start) ||
      !Number.isSafeInteger(end) ||
      start < 0 ||
      start > end ||
      end >= size
    ) {
      throw new RangeNotSatisfiableError(size, `range ${start}-${end} is outside a blob of ${size} bytes`);
    }
    return { start, end };
  }

  /**
   * Removes what ingests left behind (temp files, staging objects, unfinished multipart uploads): those of processes
   * known to have ended, and any untouched for an hour. Returns how many. Runs at startup and at each garbage
   * collection.
   */
  abstract sweepLeftovers(now?: number): Promise<number>;

  /** Resolves when the backend takes a write right now (for readiness checks); throws a StorageError otherwise. */
  abstract checkWritable(): Promise<void>;
}

/** Writes `chunk` and resolves once the destination has taken it (for a socket: handed it to the kernel). */
function writeOne(destination: Writable, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    destination.write(chunk, (error) => {
      if (error) reject(error);
      else resolve();
    });
  });
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
