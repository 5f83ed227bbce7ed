import { randomBytes } from 'node:crypto';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import {
  openS3BlobStore,
  type S3BlobStore,
  type S3BlobStoreOptions,
  type S3Connection,
} from '@artifactstore/dataplane';

/** The S3 server of the tests (scripts/s3-server.sh, started by .ci/run), or undefined with a visible warning. */
export function testS3Connection(): Omit<S3Connection, 'prefix'> | undefined {
  const endpoint = process.env.ARTIFACTSTORE_TEST_S3_ENDPOINT;
  if (!endpoint) {
    if (process.env.CI) throw new Error('CI must run the S3 tests: set ARTIFACTSTORE_TEST_S3_ENDPOINT');
    console.warn(
      'S3 tests NOT RUN in this file: start scripts/s3-server.sh and eval "$(scripts/s3-server.sh env)".',
    );
    return undefined;
  }
  return {
    endpoint,
    region: process.env.ARTIFACTSTORE_TEST_S3_REGION ?? 'us-east-1',
    bucket: 'artifactstore-test',
    forcePathStyle: true,
    accessKeyId: process.env.ARTIFACTSTORE_TEST_S3_ACCESS_KEY_ID ?? '',
    secretAccessKey: process.env.ARTIFACTSTORE_TEST_S3_SECRET_ACCESS_KEY ?? '',
    createBucket: true,
  };
}

export interface TestS3Store {
  readonly store: S3BlobStore;
  readonly client: S3Client;
  readonly prefix: string;
  corrupt(key: string): Promise<void>;
  leftovers(): Promise<string[]>;
  dispose(): Promise<void>;
}

/** An S3BlobStore under a fresh random prefix of the test bucket; dispose() deletes everything under it. */
export async function makeTestS3Store(
  connection: Omit<S3Connection, 'prefix'>,
  tuning: Partial<Omit<S3BlobStoreOptions, 'client' | 'bucket' | 'prefix'>> = {},
): Promise<TestS3Store> {
  const prefix = `test-${randomBytes(6).toString('hex')}/`;
  const store = await openS3BlobStore({ ...connection, prefix }, tuning);
  const client = store.client;
  const bucket = connection.bucket;
  const keysUnder = async (under: string): Promise<string[]> => {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: under, ContinuationToken: token }),
      );
      keys.push(...(page.Contents ?? []).flatMap((object) => (object.Key ? [object.Key] : [])));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  };
  return {
    store,
    client,
    prefix,
    corrupt: async (key) => {
      const objectKey = store.objectKey(key);
      const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: objectKey }));
      const bytes = Buffer.from((await object.Body?.transformToByteArray()) ?? []);
      const at = Math.min(1000, bytes.length - 1);
      bytes[at] = (bytes[at] ?? 0) ^ 0xff;
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: objectKey, Body: bytes }));
    },
    leftovers: async () => [
      ...(await keysUnder(store.stagingPrefix)),
      ...(await store.multipartUploads()).map((upload) => `multipart upload of ${upload.Key ?? '?'}`),
    ],
    dispose: async () => {
      for (const key of await keysUnder(prefix)) {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      }
      client.destroy();
    },
  };
}
