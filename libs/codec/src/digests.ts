import { createHash } from 'node:crypto';
import blakeHash from '@napi-rs/blake-hash';

/** Length in bytes of a BLAKE3 or SHA-256 digest. */
export const DIGEST_LENGTH = 32;

/** BLAKE3-256 of `data` (native implementation, see the README's dependency notes). */
export function blake3(data: Uint8Array | string): Buffer {
  return blakeHash.blake3(typeof data === 'string' ? data : asBuffer(data));
}

/** SHA-256 of `data`. */
export function sha256(data: Uint8Array | string): Buffer {
  return createHash('sha256').update(data).digest();
}

/** An incremental hash: feed chunks in order, then take the 32-byte digest once. */
export interface IncrementalHash {
  update(chunk: Uint8Array): void;
  digest(): Buffer;
}

/** An incremental BLAKE3, for streams. */
export function createBlake3(): IncrementalHash {
  const hasher = new blakeHash.Blake3Hasher();
  return {
    update: (chunk) => void hasher.update(asBuffer(chunk)),
    digest: () => hasher.digestBuffer(),
  };
}

/** An incremental SHA-256, for streams. */
export function createSha256(): IncrementalHash {
  const hash = createHash('sha256');
  return {
    update: (chunk) => void hash.update(chunk),
    digest: () => hash.digest(),
  };
}

/** `blake3:<lowercase hex>`, the textual content address of a BLAKE3 digest. */
export function contentAddress(blake3Digest: Uint8Array): string {
  return `blake3:${toHex(blake3Digest)}`;
}

/** A Buffer view of `bytes`, without copying. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Lowercase hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
