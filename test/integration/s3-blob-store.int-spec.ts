import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { blake3 } from '@artifactstore/codec';
import { CreateMultipartUploadCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@artifactstore/config';
import { FsBlobStore, IncompleteStreamError, createBlobStore } from '@artifactstore/dataplane';
import { describeBlobStore } from '../support/describe-blob-store.js';
import { makeTestS3Store, testS3Connection } from '../support/test-s3.js';

const connection = testS3Connection();
const MiB = 1 << 20;

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

if (connection) {
  describeBlobStore('S3BlobStore', () => makeTestS3Store(connection));

  describe('S3BlobStore on a real S3 server', () => {
    it('copies a blob over the single-copy limit into place part by part (a lowered threshold), also to put it back', async () => {
      const subject = await makeTestS3Store(connection, {
        copyPartThreshold: 6 * MiB,
        copyPartSize: 5 * MiB,
      });
      try {
        const bytes = randomBytes(12 * MiB + 3);
        const receipt = await subject.store.ingest(
          Readable.from([bytes.subarray(0, 7 * MiB), bytes.subarray(7 * MiB)]),
        );
        expect(receipt.key).toBe(blake3(bytes).toString('hex'));
        expect((await readAll(await subject.store.open(receipt.key))).equals(bytes)).toBe(true);
        await subject.store.delete(receipt.key);
        expect(await subject.store.ensureStored(receipt)).toBe(true);
        expect((await readAll(await subject.store.open(receipt.key))).equals(bytes)).toBe(true);
        await subject.store.releaseStaging(receipt);
        expect(await subject.leftovers()).toEqual([]);
      } finally {
        await subject.dispose();
      }
    });

    it('leaves no object and no open multipart upload when the source fails after several parts', async () => {
      const subject = await makeTestS3Store(connection, { partSize: 5 * MiB });
      try {
        async function* failing(): AsyncGenerator<Buffer> {
          for (let i = 0; i < 12; i++) yield randomBytes(MiB);
          await new Promise((resolve) => setTimeout(resolve, 10));
          throw new Error('client went away');
        }
        await expect(subject.store.ingest(failing())).rejects.toBeInstanceOf(IncompleteStreamError);
        expect(await subject.leftovers()).toEqual([]);
        const keys: string[] = [];
        for await (const key of subject.store.list()) keys.push(key);
        expect(keys).toEqual([]);
      } finally {
        await subject.dispose();
      }
    });

    it('sweeps staging objects and multipart uploads left by an ingest that died', async () => {
      const subject = await makeTestS3Store(connection);
      try {
        const bucket = connection.bucket;
        const key = `${subject.store.stagingPrefix}crashed`;
        await subject.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'partial' }));
        await subject.client.send(
          new CreateMultipartUploadCommand({
            Bucket: bucket,
            Key: `${subject.store.stagingPrefix}crashed-multipart`,
          }),
        );
        expect(await subject.leftovers()).toHaveLength(2);
        // Fresh leftovers may belong to a live ingest: kept.
        expect(await subject.store.sweepStaging()).toBe(0);
        expect(await subject.store.sweepStaging(Date.now() + 2 * 3600_000)).toBe(2);
        expect(await subject.leftovers()).toEqual([]);
      } finally {
        await subject.dispose();
      }
    });
  });
}

describe('createBlobStore', () => {
  it('opens the filesystem backend by default and the S3 backend (with its SDK) only when configured', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'artifactstore-factory-'));
    try {
      const fs = await createBlobStore(loadConfig({ ARTIFACTSTORE_DATA_DIR: dataDir }));
      expect(fs).toBeInstanceOf(FsBlobStore);
      if (connection) {
        const s3 = await createBlobStore(
          loadConfig({
            ARTIFACTSTORE_DATA_DIR: dataDir,
            ARTIFACTSTORE_STORAGE: 's3',
            ARTIFACTSTORE_S3_ENDPOINT: connection.endpoint,
            ARTIFACTSTORE_S3_BUCKET: connection.bucket,
            ARTIFACTSTORE_S3_FORCE_PATH_STYLE: 'true',
            ARTIFACTSTORE_S3_ACCESS_KEY_ID: connection.accessKeyId,
            ARTIFACTSTORE_S3_SECRET_ACCESS_KEY: connection.secretAccessKey,
          }),
        );
        expect(s3.backend).toBe('s3');
        await expect(s3.checkWritable()).resolves.toBeUndefined();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
