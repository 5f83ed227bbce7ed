/**
 * @artifactstore/registry — the domain service the HTTP API and the CLI share: create a package, ingest its files,
 * finalize it into a manifest whose BLAKE3 is its content address, and read all of it back. It knows no HTTP: every
 * refusal is a RegistryError with a stable `code` (or a dataplane error for bytes), for the caller to map.
 */
export { Registry } from './registry.service.js';
export {
  type CreatePackageInput,
  type CreatedPackage,
  type IngestFileOptions,
  type StagedFile,
  type FinalizeResult,
} from './package-commands.service.js';
export {
  type PackageFilter,
  type PageRequest,
  type ManifestFormat,
  type ManifestBytes,
} from './package-queries.service.js';
export { type SendResult } from './file-delivery.service.js';
export { type ReplayReport } from './log-operations.service.js';
export { type DeletionScope } from './package-lifecycle.service.js';
export { type TagRecord, type TagMove, type TagMoveResult, checkTagName } from './tags.service.js';
export {
  GarbageCollector,
  type GcReport,
  type GcStats,
  type GcOptions,
} from './garbage-collector.service.js';
/**
 * The scrub: one background pass at a time per process over the stored blobs, verifying those of live files
 * (`v1.blob.damaged` for each one missing or damaged) and counting orphans; `status` reports progress and findings.
 */
export {
  BlobScrubber,
  liveBlobsAfter,
  type ScrubStatus,
  type ScrubState,
  type ScrubFinding,
  type ScrubFindingKind,
} from './blob-scrubber.service.js';
/**
 * The long admin jobs, `replay` (rebuild the views from the log) and `verify` (check every digest of it): one at a
 * time per process, in the background, with progress by log sequence; the running job and the last
 * KEPT_FINISHED_JOBS finished ones are kept in memory.
 */
export { AdminJobs, KEPT_FINISHED_JOBS } from './admin-jobs.service.js';
export {
  ADMIN_JOB_KINDS,
  type AdminJob,
  type AdminJobKind,
  type AdminJobState,
  type AdminJobProgress,
  type AdminJobError,
  type AdminJobErrorCode,
  type ReplayJobResult,
  type VerifyJobResult,
} from './admin-job.js';
/**
 * Resumable (tus) uploads: create, append at the offset, attach at the last byte exactly as a PUT attaches, expire
 * (ADR 0014). Its refusals are RegistryErrors like the rest.
 */
export {
  ResumableUploads,
  type NewUpload,
  type UploadStatus,
  type ChunkChecksum,
} from './resumable-uploads.service.js';
export {
  UploadNotFoundError,
  UploadExpiredError,
  UploadOffsetMismatchError,
  UploadBusyError,
  ChecksumMismatchError,
} from './resumable-upload.errors.js';
/**
 * The transparency log: signed checkpoints, tlog-tiles tiles and entry bundles, consistency proofs and package
 * receipts, over the Merkle tree the views keep of the event log.
 */
export {
  TransparencyLog,
  receiptJson,
  type Checkpoint,
  type Receipt,
  type ReceiptJson,
  type ConsistencyProof,
  type TileBytes,
} from './transparency-log.service.js';
/**
 * A mirror (ARTIFACTSTORE_FOLLOW_URL): copies another server's log and blobs from its own head, the same events
 * byte for byte; stops for good when the source's log does not extend its own.
 */
export {
  MirrorFollower,
  MirrorDivergedError,
  type MirrorStatus,
  type MirrorState,
  type MirrorCounters,
} from './mirror-follower.service.js';
export { STORAGE_LOCATION_NAMESPACE, storageLocationId } from './storage-location.js';
export { RegistryModule } from './registry.module.js';
export { eventJson, type EventJson } from './event-json.js';
export { RuntimeStats, type RuntimeStatsSnapshot } from './runtime-stats.service.js';
/**
 * Counts blobs in storage that no file refers to (crash leftovers; also a live upload's blob before its commit),
 * scanned in the background: the server calls `scanInBackground` once, metrics read `lastScan`.
 */
export { UnreferencedBlobs, type UnreferencedBlobsScan } from './unreferenced-blobs.service.js';
export { type PackageRecord, type FileRecord } from './records.js';
export { type Page, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT } from './page-cursor.js';
export * from './rules.js';
/**
 * What callers of the registry meet from the libs below it: the events it tails, the dataplane's errors, and the
 * database's (a `DatabaseError` of kind `unavailable` or `storage_full` is the environment's fault, not the caller's).
 */
export { type Event, TailOverrunError } from '@artifactstore/events';
export { DatabaseError } from '@artifactstore/db';
export {
  DataplaneError,
  type DataplaneErrorCode,
  DigestMismatchError,
  SizeLimitExceededError,
  IncompleteStreamError,
  RangeNotSatisfiableError,
} from '@artifactstore/dataplane';
