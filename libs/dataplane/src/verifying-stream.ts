import { Transform, type TransformCallback } from 'node:stream';
import { createBlake3, type IncrementalHash } from '@artifactstore/codec';
import { IntegrityError } from './dataplane.errors.js';

/**
 * Passes bytes through while hashing them with BLAKE3, always one chunk behind: the last chunk is released only
 * once the whole stream's digest (and size) matched. On a mismatch the stream fails with an IntegrityError
 * instead, so a reader never receives a corrupted blob in full as if it were good.
 */
export class VerifyingStream extends Transform {
  private readonly hash: IncrementalHash = createBlake3();
  private held: Buffer | undefined;
  private size = 0;

  constructor(
    private readonly expectedBlake3: Buffer,
    private readonly expectedSize: number,
    private readonly key: string,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    const release = this.held;
    this.held = chunk;
    callback(null, release);
  }

  override _flush(callback: TransformCallback): void {
    const digest = this.hash.digest();
    if (this.size !== this.expectedSize || !digest.equals(this.expectedBlake3)) {
      callback(
        new IntegrityError(
          `blob ${this.key} is corrupt: read ${this.size} bytes with BLAKE3 ${digest.toString('hex')}` +
            ` (expected ${this.expectedSize} bytes)`,
        ),
      );
      return;
    }
    callback(null, this.held);
  }
}
