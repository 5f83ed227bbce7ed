import { DualHasher, type DualDigests } from '@artifactstore/codec';
import type { ByteSource, IngestOptions } from './blob-store.js';
import {
  DataplaneError,
  DigestMismatchError,
  IncompleteStreamError,
  SizeLimitExceededError,
  StorageError,
} from './dataplane.errors.js';

/**
 * The bytes of `source`, hashed with BLAKE3 and SHA-256 as they pass and held to the ingest's limits: more than
 * the limit throws SizeLimitExceededError at once; a source that fails throws IncompleteStreamError. `result()`
 * then checks the declared size and digests (DigestMismatchError, IncompleteStreamError) and gives the receipt.
 */
export class HashedSource {
  private readonly hasher = new DualHasher();
  private readonly limit: number;

  constructor(
    private readonly source: ByteSource,
    private readonly options: IngestOptions,
  ) {
    this.limit = Math.min(options.maxSize ?? Infinity, options.expectedSize ?? Infinity);
  }

  async *chunks(): AsyncGenerator<Uint8Array> {
    try {
      for await (const chunk of this.source) {
        if (this.hasher.size + chunk.length > this.limit) throw new SizeLimitExceededError(this.limit);
        this.hasher.update(chunk);
        yield chunk;
      }
    } catch (error) {
      if (error instanceof DataplaneError) throw error;
      throw new IncompleteStreamError(
        `the source failed after ${this.hasher.size} bytes: ${messageOf(error)}`,
        {
          cause: error,
        },
      );
    }
  }

  result(): DualDigests {
    const expectedSize = this.options.expectedSize;
    if (expectedSize !== undefined && this.hasher.size < expectedSize) {
      throw new IncompleteStreamError(`the source ended after ${this.hasher.size} of ${expectedSize} bytes`);
    }
    const hashed = this.hasher.digests();
    checkDigest('blake3', this.options.expectedBlake3, hashed.blake3);
    checkDigest('sha256', this.options.expectedSha256, hashed.sha256);
    return hashed;
  }
}

export function checkDigest(
  algorithm: 'blake3' | 'sha256',
  expected: Uint8Array | undefined,
  actual: Buffer,
): void {
  if (expected !== undefined && !actual.equals(expected)) {
    throw new DigestMismatchError(algorithm, Buffer.from(expected).toString('hex'), actual.toString('hex'));
  }
}

export function storageError(what: string, error: unknown): StorageError {
  return new StorageError(`${what}: ${messageOf(error)}`, { cause: error });
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
