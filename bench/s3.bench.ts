import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { FsBlobStore, openS3BlobStore, type BlobStore, type S3Connection } from '@artifactstore/dataplane';
import { bytes } from './dataplane.bench.js';

const MiB = 1 << 20;
const CHUNK = MiB;

export interface S3BenchResult {
  readonly s3IngestMiBps: number;
  readonly s3ReadMiBps: number;
  readonly fsIngestMiBps: number;
  readonly fsReadMiBps: number;
  /** A plain @aws-sdk/lib-storage Upload of the same bytes (same part size and queue): the server's floor. */
  readonly plainUploadMiBps: number;
}

async function timeIngestAndRead(store: BlobStore, size: number, salt: number): Promise<[number, number]> {
  let start = performance.now();
  const receipt = await store.ingest(bytes(size, CHUNK, randomBytes(4 * MiB), salt));
  const ingestSeconds = (performance.now() - start) / 1000;
  start = performance.now();
  let read = 0;
  for await (const chunk of await store.open(receipt.key)) read += (chunk as Buffer).length;
  const readSeconds = (performance.now() - start) / 1000;
  if (read !== size) throw new Error(`read ${read} of ${size} bytes`);
  await store.delete(receipt.key);
  return [ingestSeconds, readSeconds];
}

/**
 * 1 GiB (or `sizeMiB`) through S3BlobStore (ingest: staged multipart upload + copy into place; verified read)
 * beside FsBlobStore and beside a plain lib-storage upload of as many bytes, in one run.
 */
export async function benchS3(
  connection: Omit<S3Connection, 'prefix'>,
  sizeMiB: number,
): Promise<S3BenchResult> {
  const size = sizeMiB * MiB;
  const prefix = `bench-${randomBytes(4).toString('hex')}/`;
  const s3 = await openS3BlobStore({ ...connection, prefix });
  const root = await mkdtemp(join(tmpdir(), 'artifactstore-bench-s3-'));
  const fs = new FsBlobStore(root);
  await fs.init();
  const client = s3.client;
  try {
    const [s3Ingest, s3Read] = await timeIngestAndRead(s3, size, 11);
    const [fsIngest, fsRead] = await timeIngestAndRead(fs, size, 12);
    const key = `${prefix}plain-upload`;
    const start = performance.now();
    await new Upload({
      client,
      params: {
        Bucket: connection.bucket,
        Key: key,
        Body: Readable.from(bytes(size, CHUNK, randomBytes(4 * MiB), 13), { objectMode: false }),
      },
      partSize: 8 * MiB,
      queueSize: 2,
    }).done();
    const plainSeconds = (performance.now() - start) / 1000;
    await client.send(new DeleteObjectCommand({ Bucket: connection.bucket, Key: key }));
    return {
      s3IngestMiBps: sizeMiB / s3Ingest,
      s3ReadMiBps: sizeMiB / s3Read,
      fsIngestMiBps: sizeMiB / fsIngest,
      fsReadMiBps: sizeMiB / fsRead,
      plainUploadMiBps: sizeMiB / plainSeconds,
    };
  } finally {
    client.destroy();
    await rm(root, { recursive: true, force: true });
  }
}
