import { join } from 'node:path';
import type { AppConfig } from '@artifactstore/config';
import type { BlobStore } from './blob-store.js';
import { FsUploadStaging } from './fs-upload-staging.js';
import type { S3BlobStore } from './s3-blob-store.js';
import type { S3UploadStagingOptions } from './s3-upload-staging.js';
import type { UploadStaging } from './upload-staging.js';

/** The UploadStaging of the configured backend, next to `store`'s blobs (the S3 module loads only for S3). */
export async function createUploadStaging(config: AppConfig, store: BlobStore): Promise<UploadStaging> {
  if (config.storage === 's3') {
    if (!config.s3) throw new Error('ARTIFACTSTORE_STORAGE=s3 without S3 settings');
    return openS3UploadStaging(store as S3BlobStore, { bucket: config.s3.bucket, prefix: config.s3.prefix });
  }
  return new FsUploadStaging(store, join(config.dataDir, 'blobs'));
}

/** An S3UploadStaging beside `store`, on its client; the module with the AWS SDK is imported on first use. */
export async function openS3UploadStaging(
  store: S3BlobStore,
  options: Omit<S3UploadStagingOptions, 'client'>,
): Promise<UploadStaging> {
  const { S3UploadStaging } = await import('./s3-upload-staging.js');
  return new S3UploadStaging(store, { client: store.client, ...options });
}
