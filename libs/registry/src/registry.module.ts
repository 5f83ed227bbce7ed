import { Module } from '@nestjs/common';
import { DataplaneModule } from '@artifactstore/dataplane';
import { ViewsModule } from '@artifactstore/views';
import { Registry } from './registry.service.js';
import { RuntimeStats } from './runtime-stats.service.js';
import { UnreferencedBlobs } from './unreferenced-blobs.service.js';

/** The domain service. Needs the database (DbModule) and the config (ConfigModule) from the root module. */
@Module({
  imports: [ViewsModule, DataplaneModule],
  providers: [Registry, RuntimeStats, UnreferencedBlobs],
  exports: [Registry, RuntimeStats, UnreferencedBlobs],
})
export class RegistryModule {}
