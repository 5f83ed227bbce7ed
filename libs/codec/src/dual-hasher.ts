import { createBlake3, createSha256, type IncrementalHash } from './digests.js';

/** What a DualHasher saw: the number of bytes, their BLAKE3 and their SHA-256 (32 bytes each). */
export interface DualDigests {
  readonly size: number;
  readonly blake3: Buffer;
  readonly sha256: Buffer;
}

/**
 * BLAKE3 and SHA-256 of bytes fed in order, both computed from each chunk as it passes, and their count: the one
 * pass over a file's bytes that the store does at ingest and the CLI does before a push and during a pull.
 */
export class DualHasher {
  private readonly blake3: IncrementalHash = createBlake3();
  private readonly sha256: IncrementalHash = createSha256();
  private count = 0;

  update(chunk: Uint8Array): void {
    this.blake3.update(chunk);
    this.sha256.update(chunk);
    this.count += chunk.length;
  }

  /** Bytes fed so far. */
  get size(): number {
    return this.count;
  }

  /** The digests of every byte fed; call once, after the last chunk. */
  digests(): DualDigests {
    return { size: this.count, blake3: this.blake3.digest(), sha256: this.sha256.digest() };
  }
}
