import { join } from 'node:path';
import type { AppConfig } from '@artifactstore/config';
import type { BlobStore } from './blob-store.js';
import { FsBlobStore } from './fs-blob-store.js';
import { openS3BlobStore } from './s3-blob-store.lazy.js';

/**
 * The BlobStore that ARTIFACTSTORE_STORAGE names, ready to use. The S3 backend (and with it the AWS SDK) is loaded
 * only when it is configured.
 */
export async function createBlobStore(config: AppConfig): Promise<BlobStore> {
  if (config.storage === 's3') {
    if (!config.s3) throw new Error('ARTIFACTSTORE_STORAGE=s3 without S3 settings');
    return openS3BlobStore(config.s3);
  }
  const store = new FsBlobStore(join(config.dataDir, 'blobs'), { directIo: config.fsDirectIo });
  await store.init();
  return store;
}
