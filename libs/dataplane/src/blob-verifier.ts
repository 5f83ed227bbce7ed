import { createBlake3 } from '@artifactstore/codec';
import type { BlobChunk } from './blob-store.js';
import { IntegrityError } from './dataplane.errors.js';

/**
 * Bytes a verified read holds back until the blob's size and BLAKE3 digest are confirmed: a blob up to this size is
 * checked in full before its first byte goes out, and a larger one never delivers its last this many bytes unless
 * it is intact. Counted in bytes rather than chunks so that every backend behaves alike, whatever its chunks.
 */
export const VERIFY_HOLD_BACK = 2 << 20;

/**
 * Checks a whole blob's chunks, in order, against its key (the BLAKE3 of its bytes) and size, holding back the
 * newest VERIFY_HOLD_BACK bytes (everything, for a smaller blob) until the last chunk: then they are released only
 * if the size and the digest match, and an IntegrityError is thrown otherwise. More bytes than expected fail at
 * once. Chunks it holds are released (given back to their backend) when it fails or is discarded.
 */
export class BlobVerifier {
  private readonly hash = createBlake3();
  private readonly held: BlobChunk[] = [];
  private heldBytes = 0;
  private size = 0;

  constructor(
    private readonly key: string,
    private readonly expectedSize: number,
  ) {}

  /** Takes the next chunk; returns the chunks that may go out now, oldest first. */
  accept(chunk: BlobChunk): BlobChunk[] {
    this.size += chunk.bytes.length;
    if (this.size > this.expectedSize) {
      chunk.release?.();
      throw this.corrupt(`more than its ${this.expectedSize} bytes`);
    }
    this.hash.update(chunk.bytes);
    this.held.push(chunk);
    this.heldBytes += chunk.bytes.length;
    const ready: BlobChunk[] = [];
    for (let first = this.held[0]; first && this.heldBytes - first.bytes.length >= VERIFY_HOLD_BACK;) {
      ready.push(first);
      this.held.shift();
      this.heldBytes -= first.bytes.length;
      first = this.held[0];
    }
    return ready;
  }

  /** After the last chunk: the chunks held back, once the size and the digest match. */
  finish(): BlobChunk[] {
    if (this.size !== this.expectedSize) throw this.corrupt(`${this.size} of its ${this.expectedSize} bytes`);
    const digest = this.hash.digest().toString('hex');
    if (digest !== this.key) throw this.corrupt(`bytes whose BLAKE3 is ${digest}`);
    this.heldBytes = 0;
    return this.held.splice(0);
  }

  /** Releases every chunk still held (after a failure, or when the reader stops early). */
  discard(): void {
    for (const chunk of this.held.splice(0)) chunk.release?.();
    this.heldBytes = 0;
  }

  private corrupt(what: string): IntegrityError {
    return new IntegrityError(`blob ${this.key} is corrupt: read ${what}`);
  }
}

/**
 * A whole blob's chunks through a BlobVerifier: the chunks it lets go, then, at the end, those it held back or an
 * IntegrityError. Every full read of every backend goes through it. Stopping early releases what is held.
 */
export async function* verified(
  chunks: AsyncIterable<BlobChunk>,
  key: string,
  size: number,
): AsyncGenerator<BlobChunk> {
  const verifier = new BlobVerifier(key, size);
  let ready: BlobChunk[] = [];
  try {
    for await (const chunk of chunks) {
      ready = verifier.accept(chunk);
      while (ready.length > 0) yield ready.shift() as BlobChunk;
    }
    ready = verifier.finish();
    while (ready.length > 0) yield ready.shift() as BlobChunk;
  } finally {
    for (const chunk of ready) chunk.release?.();
    verifier.discard();
  }
}
