import { Transform, type TransformCallback } from 'node:stream';
import { createBlake3 } from '@artifactstore/codec';
import { IntegrityError } from './dataplane.errors.js';

/**
 * Passes a blob's bytes through while hashing them, always one chunk behind: the last chunk goes out only once
 * the BLAKE3 digest and the size matched, so a corrupted, truncated or extended blob fails with an IntegrityError
 * before the reader has it in full. For backends whose bytes arrive as a stream (S3); the filesystem backend has
 * its own reader (VerifiedFileStream) that also overlaps reads with hashing.
 */
export class VerifyingTransform extends Transform {
  private readonly hash = createBlake3();
  private held: Buffer | undefined;
  private size = 0;

  constructor(
    private readonly key: string,
    private readonly expectedSize: number,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.expectedSize) {
      callback(new IntegrityError(`blob ${this.key} is longer than its ${this.expectedSize} bytes`));
      return;
    }
    this.hash.update(chunk);
    const previous = this.held;
    this.held = chunk;
    callback(null, previous);
  }

  override _flush(callback: TransformCallback): void {
    if (this.size !== this.expectedSize) {
      callback(new IntegrityError(`blob ${this.key} has ${this.size} of its ${this.expectedSize} bytes`));
      return;
    }
    if (this.hash.digest().toString('hex') !== this.key) {
      callback(new IntegrityError(`blob ${this.key} does not match its BLAKE3 digest`));
      return;
    }
    callback(null, this.held);
  }
}
