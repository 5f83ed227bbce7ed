/**
 * @artifactstore/registry/rules — what a client of the registry needs without its service: the manifest's
 * encoding and decoding, the rules for paths and other input, and the registry's errors. It loads no Nest and no
 * TypeORM (importing the front door costs about half a second), so the CLI's push, pull and verify over HTTP use
 * this entry; the front door re-exports all of it.
 */
export {
  MANIFEST_SCHEMA,
  buildManifest,
  encodeManifest,
  decodeManifest,
  manifestJson,
  InvalidManifestError,
  type Manifest,
  type ManifestFile,
  type ManifestPackage,
} from './manifest.js';
export {
  DEFAULT_MEDIA_TYPE,
  MAX_LABEL_CODE_POINTS,
  MAX_METADATA_BYTES,
  MAX_METADATA_DEPTH,
  MAX_RELATIVE_PATH_BYTES,
  MAX_MEDIA_TYPE_LENGTH,
  normalizeRelativePath,
  checkPortablePath,
  pathCollision,
  findPathCollision,
  type PathCollision,
} from './input-rules.js';
export {
  RegistryError,
  InvalidInputError,
  UnknownRetentionClassError,
  PackageNotFoundError,
  IllegalPackageStateError,
  InvalidRelativePathError,
  DuplicateRelativePathError,
  PathConflictError,
  FileNotFoundError,
  ManifestNotFoundError,
  PackageHeldError,
  PackageGoneError,
  DeletionForbiddenError,
  CollectorBusyError,
  IdempotencyKeyReusedError,
  PackageConflictError,
  TagNotFoundError,
  TagNameMismatchError,
  TagImmutableError,
  LogRangeError,
  JobRunningError,
  JobNotFoundError,
  PACKAGE_STATUSES,
  type RegistryErrorCode,
  type PackageStatus,
} from './registry.errors.js';
