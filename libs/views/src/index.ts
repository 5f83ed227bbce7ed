/**
 * @artifactstore/views — the SQL views as projections of the event log. `ViewProjector.appendAndApply(tx, draft)`
 * is the write path (append and project in one transaction); `replayAll()` rebuilds the views from the log with the
 * same handlers; `stateDigest(tx)` fingerprints the views so that replay can be proven byte-identical.
 */
export { RegistryViewWriter } from './registry-view-writer.js';
export { LogTreeWriter } from './log-tree-writer.js';
export { ViewProjector } from './view-projector.service.js';
export { ViewsModule } from './views.module.js';
export { type ViewHandler, ProjectionError } from './view-handler.js';
export { InvalidPayloadError } from './payload-reader.js';
export { stateDigest, dumpState, type StateDump } from './state-digest.js';
export { VIEW_TABLES, type ViewTable, type ViewColumn, type ColumnKind } from './view-tables.js';
export {
  PACKAGE_CREATED,
  packageCreatedEvent,
  readPackageCreated,
  type PackageCreatedPayload,
} from './handlers/package-created.handler.js';
export {
  FILE_INGESTED,
  fileIngestedEvent,
  readFileIngested,
  type FileIngestedPayload,
  type StorageLocation,
} from './handlers/file-ingested.handler.js';
export { PACKAGE_FINALIZED, packageFinalizedEvent } from './handlers/package-finalized.handler.js';
export {
  PACKAGE_EXPIRED,
  packageExpiredEvent,
  readPackageExpired,
  type ExpiryReason,
  type PackageExpiredPayload,
} from './handlers/package-expired.handler.js';
export { PACKAGE_DELETED, packageDeletedEvent } from './handlers/package-deleted.handler.js';
export { PACKAGE_HELD, packageHeldEvent } from './handlers/package-held.handler.js';
export { PACKAGE_RELEASED, packageReleasedEvent } from './handlers/package-released.handler.js';
export {
  PACKAGE_RETENTION_CHANGED,
  packageRetentionChangedEvent,
} from './handlers/package-retention-changed.handler.js';
export {
  BLOB_COLLECTED,
  blobCollectedEvent,
  readBlobCollected,
  type BlobCollectedPayload,
} from './handlers/blob-collected.handler.js';
export {
  BLOB_DAMAGED,
  blobDamagedEvent,
  readBlobDamaged,
  type BlobDamageKind,
  type BlobDamagedPayload,
} from './handlers/blob-damaged.handler.js';
export { LIVE_STATUSES } from './handlers/package-rows.js';
export {
  TAG_MOVED,
  tagMovedEvent,
  readTagMoved,
  tagSubject,
  type TagMovedPayload,
} from './handlers/tag-moved.handler.js';
export { TAG_DELETED, tagDeletedEvent, type TagDeletedPayload } from './handlers/tag-deleted.handler.js';
export { type ViewStore, type ViewRow, type ViewTableName } from './view-store.js';
