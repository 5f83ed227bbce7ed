import { Module } from '@nestjs/common';
import { AppConfig } from '@artifactstore/config';
import { BlobStore } from './blob-store.js';
import { createBlobStore } from './blob-store.factory.js';
import { UploadStaging } from './upload-staging.js';
import { createUploadStaging } from './upload-staging.factory.js';

/** Provides the configured BlobStore. Knows nothing of packages, events or HTTP. */
@Module({
  providers: [
    { provide: BlobStore, inject: [AppConfig], useFactory: (config: AppConfig) => createBlobStore(config) },
    {
      provide: UploadStaging,
      inject: [AppConfig, BlobStore],
      useFactory: (config: AppConfig, store: BlobStore) => createUploadStaging(config, store),
    },
  ],
  exports: [BlobStore, UploadStaging],
})
export class DataplaneModule {}
