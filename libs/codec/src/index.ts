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
// The transparency log: the RFC 9162 Merkle tree, C2SP signed notes and checkpoints, and tlog-tiles paths.
export {
  EMPTY_TREE_ROOT,
  leafHash,
  nodeHash,
  type Subtree,
  subtreesOfRange,
  foldSubtrees,
  rootOfLeaves,
  rootPlan,
  inclusionProofPlan,
  consistencyProofPlan,
  verifyInclusion,
  verifyConsistency,
} from './merkle-tree.js';
export {
  InvalidNoteError,
  type NoteVerifier,
  type ParsedVerifierKey,
  type Checkpoint,
  type ParsedCheckpoint,
  noteKeyId,
  formatVerifierKey,
  parseVerifierKey,
  rawEd25519PublicKey,
  ed25519PublicKeyFromRaw,
  signNote,
  openNote,
  formatCheckpoint,
  parseCheckpoint,
} from './signed-note.js';
export {
  TILE_HEIGHT,
  TILE_WIDTH,
  ENTRY_BUNDLE_WIDTH,
  InvalidTilePathError,
  InvalidEntryBundleError,
  type TilePath,
  formatTileIndex,
  parseTilePath,
  formatTilePath,
  encodeEntryBundle,
  decodeEntryBundle,
} from './tile-path.js';
