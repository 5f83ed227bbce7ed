import type { S3BlobStore, S3BlobStoreOptions, S3Connection } from './s3-blob-store.js';

/**
 * An S3BlobStore on `connection` (bucket checked or created, stale staging swept). The module with the AWS SDK is
 * imported here, on first use, so that a server on the filesystem backend never loads it.
 */
export async function openS3BlobStore(
  connection: S3Connection,
  tuning: Partial<Omit<S3BlobStoreOptions, 'client' | 'bucket' | 'prefix'>> = {},
): Promise<S3BlobStore> {
  const module = await import('./s3-blob-store.js');
  return module.openS3BlobStore(connection, tuning);
}
