import { randomBytes } from 'node:crypto';
import { testS3Connection } from './test-s3.js';

/** A storage backend the collector is tested on: its name and the config that selects it. */
export interface GcBackend {
  readonly name: 'fs' | 's3';
  readonly overrides: Readonly<Record<string, string>>;
}

/**
 * The backends of the collector's tests: fs always, S3 when the test server is reachable (`testS3Connection`),
 * each S3 one under a fresh prefix so that runs never see each other's blobs.
 */
export function gcBackendsUnderTest(label: string): GcBackend[] {
  const backends: GcBackend[] = [{ name: 'fs', overrides: {} }];
  const s3 = testS3Connection();
  if (s3) {
    backends.push({
      name: 's3',
      overrides: {
        ARTIFACTSTORE_STORAGE: 's3',
        ARTIFACTSTORE_S3_ENDPOINT: s3.endpoint ?? '',
        ARTIFACTSTORE_S3_BUCKET: s3.bucket,
        ARTIFACTSTORE_S3_PREFIX: `${label}-${randomBytes(6).toString('hex')}/`,
        ARTIFACTSTORE_S3_FORCE_PATH_STYLE: 'true',
        ARTIFACTSTORE_S3_ACCESS_KEY_ID: s3.accessKeyId ?? '',
        ARTIFACTSTORE_S3_SECRET_ACCESS_KEY: s3.secretAccessKey ?? '',
      },
    });
  }
  return backends;
}
