import { Module } from '@nestjs/common';
import { AppConfig } from '@artifactstore/config';
import { BlobStore } from './blob-store.js';
import { createBlobStore } from './blob-store.factory.js';

/** Provides the configured BlobStore. Knows nothing of packages, events or HTTP. */
@Module({
  providers: [
    { provide: BlobStore, inject: [AppConfig], useFactory: (config: AppConfig) => createBlobStore(config) },
  ],
  exports: [BlobStore],
})
export class DataplaneModule {}
