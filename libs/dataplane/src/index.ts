/**
 * @artifactstore/dataplane — bytes in and out: one-pass BLAKE3 + SHA-256 ingest into content-addressed,
 * crash-safe storage, and verified reads. Inject `BlobStore`; `createBlobStore(config)` picks the backend.
 */
export {
  BlobStore,
  type SendOutcome,
  type IngestReceipt,
  type IngestOptions,
  type OpenOptions,
  type BlobStat,
  type StoredBlob,
  type ByteSource,
} from './blob-store.js';
/** A damaged blob up to this size fails before its first byte is read or sent; a larger one before its last this many. */
export { VERIFY_HOLD_BACK } from './blob-verifier.js';
export { FsBlobStore } from './fs-blob-store.js';
/** How FsBlobStore names its temp files, for the tests that leave them as other processes would. */
export { type TempFileOwner, thisProcessOwner, tempFileName, processStartTime } from './temp-file-owner.js';
/** FsBlobStore's writer, for the benchmark that measures the same writes without the hashing (ADR 0011). */
export { BlobFileWriter } from './blob-file-writer.js';
export { createBlobStore } from './blob-store.factory.js';
/** Type only: the S3 backend's module (and the AWS SDK) loads when `openS3BlobStore` is first called. */
export type { S3BlobStore, S3BlobStoreOptions, S3Connection } from './s3-blob-store.js';
export { openS3BlobStore } from './s3-blob-store.lazy.js';
export { DataplaneModule } from './dataplane.module.js';
/**
 * Resumable (tus) uploads' bytes, staged in the blob storage beside the blobs but outside their keyspace, so that
 * every process of a deployment sees them (ADR 0014). Inject `UploadStaging`.
 */
export { UploadStaging, type StagedUploadState, UPLOAD_ID } from './upload-staging.js';
export { FsUploadStaging } from './fs-upload-staging.js';
export { createUploadStaging, openS3UploadStaging } from './upload-staging.factory.js';
export type { S3UploadStagingOptions } from './s3-upload-staging.js';
export {
  DataplaneError,
  type DataplaneErrorCode,
  DigestMismatchError,
  SizeLimitExceededError,
  IncompleteStreamError,
  StorageError,
  IntegrityError,
  BlobNotFoundError,
  RangeNotSatisfiableError,
} from './dataplane.errors.js';
