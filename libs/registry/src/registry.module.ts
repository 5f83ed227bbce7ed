import { Module } from '@nestjs/common';
import { DataplaneModule } from '@artifactstore/dataplane';
import { ViewsModule } from '@artifactstore/views';
import { AdminJobs } from './admin-jobs.service.js';
import { BlobScrubber } from './blob-scrubber.service.js';
import { FileDelivery } from './file-delivery.service.js';
import { GarbageCollector } from './garbage-collector.service.js';
import { LogOperations } from './log-operations.service.js';
import { PackageCommands } from './package-commands.service.js';
import { PackageLifecycle } from './package-lifecycle.service.js';
import { PackageQueries } from './package-queries.service.js';
import { Registry } from './registry.service.js';
import { ResumableUploads } from './resumable-uploads.service.js';
import { Tags } from './tags.service.js';
import { RuntimeStats } from './runtime-stats.service.js';
import { MirrorFollower } from './mirror-follower.service.js';
import { TransparencyLog } from './transparency-log.service.js';
import { UnreferencedBlobs } from './unreferenced-blobs.service.js';

/** The domain service. Needs the database (DbModule) and the config (ConfigModule) from the root module. */
@Module({
  imports: [ViewsModule, DataplaneModule],
  providers: [
    PackageCommands,
    PackageLifecycle,
    PackageQueries,
    GarbageCollector,
    BlobScrubber,
    AdminJobs,
    FileDelivery,
    LogOperations,
    Registry,
    Tags,
    RuntimeStats,
    UnreferencedBlobs,
    ResumableUploads,
    TransparencyLog,
    MirrorFollower,
  ],
  exports: [
    Registry,
    RuntimeStats,
    UnreferencedBlobs,
    GarbageCollector,
    BlobScrubber,
    AdminJobs,
    ResumableUploads,
    TransparencyLog,
    MirrorFollower,
  ],
})
export class RegistryModule {}
