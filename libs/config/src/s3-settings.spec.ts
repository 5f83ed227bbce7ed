import { loadConfig } from './index.js';

describe('ARTIFACTSTORE_S3_*', () => {
  const s3 = (env: Record<string, string>) => loadConfig({ ARTIFACTSTORE_STORAGE: 's3', ...env });

  it('reads the S3 settings only when the storage is s3', () => {
    expect(loadConfig({ ARTIFACTSTORE_S3_BUCKET: 'ignored' }).s3).toBeUndefined();
    expect(
      s3({
        ARTIFACTSTORE_S3_BUCKET: 'blobs',
        ARTIFACTSTORE_S3_ENDPOINT: 'http://127.0.0.1:7480',
        ARTIFACTSTORE_S3_PREFIX: 'as/',
        ARTIFACTSTORE_S3_FORCE_PATH_STYLE: 'true',
        ARTIFACTSTORE_S3_ACCESS_KEY_ID: 'key',
        ARTIFACTSTORE_S3_SECRET_ACCESS_KEY: 'secret',
        ARTIFACTSTORE_S3_CREATE_BUCKET: 'false',
      }).s3,
    ).toEqual({
      endpoint: 'http://127.0.0.1:7480',
      region: 'us-east-1',
      bucket: 'blobs',
      prefix: 'as/',
      forcePathStyle: true,
      accessKeyId: 'key',
      secretAccessKey: 'secret',
      createBucket: false,
    });
  });

  it('defaults to AWS itself, virtual-hosted buckets, the SDK credential chain and creating the bucket', () => {
    expect(s3({ ARTIFACTSTORE_S3_BUCKET: 'blobs' }).s3).toEqual({
      region: 'us-east-1',
      bucket: 'blobs',
      prefix: '',
      forcePathStyle: false,
      createBucket: true,
    });
  });

  it.each([
    [{}, /ARTIFACTSTORE_S3_BUCKET: required when ARTIFACTSTORE_STORAGE=s3/],
    [{ ARTIFACTSTORE_S3_BUCKET: 'Bad_Bucket' }, /ARTIFACTSTORE_S3_BUCKET: not an S3 bucket name/],
    [
      { ARTIFACTSTORE_S3_BUCKET: 'b1', ARTIFACTSTORE_S3_ENDPOINT: 'ftp://x' },
      /ARTIFACTSTORE_S3_ENDPOINT: expected http/,
    ],
    [
      { ARTIFACTSTORE_S3_BUCKET: 'b1', ARTIFACTSTORE_S3_ACCESS_KEY_ID: 'k' },
      /set it and ARTIFACTSTORE_S3_SECRET_ACCESS_KEY together/,
    ],
    [
      { ARTIFACTSTORE_S3_BUCKET: 'b1', ARTIFACTSTORE_S3_FORCE_PATH_STYLE: 'maybe' },
      /ARTIFACTSTORE_S3_FORCE_PATH_STYLE: expected true or false/,
    ],
  ])('refuses %j', (env, message) => {
    expect(() => s3(env)).toThrow(message);
  });
});
