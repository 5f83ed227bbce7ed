/**
 * @artifactstore/dataplane — bytes in and out: one-pass BLAKE3 + SHA-256 ingest into content-addressed,
 * crash-safe storage, and verified reads. Inject `BlobStore`; `createBlobStore(config)` picks the backend.
 */
export {
  BlobStore,
  type IngestReceipt,
  type IngestOptions,
  type OpenOptions,
  type BlobStat,
  type StoredBlob,
  type ByteSource,
} from './blob-store.js';
export { FsBlobStore, sendBuffersOnHugePages } from './fs-blob-store.js';
/** How FsBlobStore names its temp files, for the tests that leave them as other processes would. */
export { type TempFileOwner, thisProcessOwner, tempFileName, processStartTime } from './temp-file-owner.js';
/** FsBlobStore's direct-I/O parts, for benchmarks that measure the same I/O without the hashing (ADR 0007). */
export { BlobFileWriter, DirectIoSwitch } from './blob-file-writer.js';
export { O_DIRECT, directIoBuffers, AlignedBufferPool } from './direct-io.js';
/** Huge pages for the send buffers (ADR 0010), for the tests that check them on the machine. */
export { type HugePages, hugePages, hugePagesFrom, readTransparentHugePageFacts } from './huge-pages.js';
export { createBlobStore } from './blob-store.factory.js';
/** Type only: the S3 backend's module (and the AWS SDK) loads when `openS3BlobStore` is first called. */
export type { S3BlobStore, S3BlobStoreOptions, S3Connection } from './s3-blob-store.js';
export { openS3BlobStore } from './s3-blob-store.lazy.js';
export { DataplaneModule } from './dataplane.module.js';
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
