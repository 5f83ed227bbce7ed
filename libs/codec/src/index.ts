/**
 * @artifactstore/codec — the one home of the byte-level formats: deterministic CBOR (RFC 8949 §4.2.1), RFC 8785
 * JSON, BLAKE3 and SHA-256, and the RFC 3339 timestamp spelling. Everything that is hashed is encoded here, so
 * that a digest computed by the events lib, the views lib and the registry always agrees.
 */
export { type CborValue, type CborMap, CborEncodeError, CborDecodeError } from './cbor-value.js';
export { encodeCanonicalCbor } from './cbor-encoder.js';
export { decodeCbor, isCanonicalCbor } from './cbor-decoder.js';
export { canonicalJson, cborToJson, CanonicalJsonError, type JsonValue } from './canonical-json.js';
export {
  blake3,
  sha256,
  createBlake3,
  createSha256,
  contentAddress,
  toHex,
  DIGEST_LENGTH,
  type IncrementalHash,
} from './digests.js';
export { DualHasher, type DualDigests } from './dual-hasher.js';
export {
  type Timestamp,
  formatTimestamp,
  parseTimestamp,
  addDays,
  InvalidTimestampError,
} from './timestamp.js';
export { uuidv7, uuidv5, isUuid } from './uuid.js';
export { simpleCaseFold } from './simple-case-fold.js';
