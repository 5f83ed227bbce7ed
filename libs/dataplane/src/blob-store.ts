import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
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
}

/** Bytes that can be ingested: a Node readable, or any (async) iterable of byte chunks. */
export type ByteSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/**
 * Content-addressed blob storage. Implementations guarantee: each byte is read once and both digests are
 * computed as it flows; memory stays bounded; a blob is either absent or complete under its key; a failed ingest
 * leaves nothing behind; a full read verifies BLAKE3 and holds back its last chunk until the digest is confirmed.
 * An abstract class rather than an interface so that Nest can inject it by type.
 */
export abstract class BlobStore {
  abstract readonly backend: string;

  /** Stores the bytes of `source`, hashing them with BLAKE3 and SHA-256 in the same pass. */
  abstract ingest(source: ByteSource, options?: IngestOptions): Promise<IngestReceipt>;

  /**
   * The bytes under `key`. Without a range, BLAKE3-verified: on a mismatch the stream is destroyed with an
   * IntegrityError before its final bytes go out. A range is served without reading the rest of the blob (and
   * cannot be verified on its own).
   */
  abstract open(key: string, options?: OpenOptions): Promise<Readable>;

  /**
   * Writes the bytes `open` gives to `destination` and ends it; resolves once it finished. Verified as `open`
   * verifies: on a mismatch it rejects with an IntegrityError before the final bytes go out, and the destination is
   * destroyed (a backend may leave it untouched when it failed before writing a byte, so that the caller can still
   * answer with an error: FsBlobStore does). Rejects as `stream.promises.pipeline` does, ERR_STREAM_PREMATURE_CLOSE
   * when the destination closes first. Backends may do better than a pipeline (FsBlobStore writes from recycled
   * read buffers).
   */
  async send(key: string, destination: Writable, options: OpenOptions = {}): Promise<void> {
    await pipeline(await this.open(key, options), destination);
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

  /** Resolves when the backend takes a write right now (for readiness checks); throws a StorageError otherwise. */
  abstract checkWritable(): Promise<void>;
}
