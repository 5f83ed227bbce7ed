import { join } from 'node:path';
import type { AppConfig } from '@artifactstore/config';
import type { BlobStore } from './blob-store.js';
import { FsBlobStore } from './fs-blob-store.js';

/**
 * The BlobStore that ARTIFACTSTORE_STORAGE names, ready to use. `fs` is the only value the config accepts until the
 * S3 backend joins here.
 */
export async function createBlobStore(config: AppConfig): Promise<BlobStore> {
  const store = new FsBlobStore(join(config.dataDir, 'blobs'));
  await store.init();
  return store;
}
