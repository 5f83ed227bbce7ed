import { randomBytes } from 'node:crypto';
import { blake3, sha256 } from '@artifactstore/codec';
import { createScratchPostgres } from '../support/scratch-database.js';
import { ServerChild } from '../support/server-child.js';
import type { TestDatabase } from '../support/test-databases.js';
import { testS3Connection } from '../support/test-s3.js';
import { tusUpload } from '../support/tus-client.js';

const MiB = 1 << 20;
const CHUNK = 4 * MiB;
const pgUrl = process.env.ARTIFACTSTORE_TEST_PG_URL;

interface Backend {
  readonly name: string;
  readonly env: () => Record<string, string>;
}

function backends(): Backend[] {
  const list: Backend[] = [{ name: 'fs (one data folder)', env: () => ({}) }];
  const s3 = testS3Connection();
  if (s3) {
    list.push({
      name: 'S3 (one bucket)',
      env: () => ({
        ARTIFACTSTORE_STORAGE: 's3',
        ARTIFACTSTORE_S3_ENDPOINT: s3.endpoint ?? '',
        ARTIFACTSTORE_S3_BUCKET: s3.bucket,
        ARTIFACTSTORE_S3_PREFIX: `tus-processes-${randomBytes(4).toString('hex')}/`,
        ARTIFACTSTORE_S3_FORCE_PATH_STYLE: 'true',
        ARTIFACTSTORE_S3_ACCESS_KEY_ID: s3.accessKeyId ?? '',
        ARTIFACTSTORE_S3_SECRET_ACCESS_KEY: s3.secretAccessKey ?? '',
        ARTIFACTSTORE_S3_CREATE_BUCKET: 'true',
      }),
    });
  }
  return list;
}

if (!pgUrl) {
  console.warn(
    'tus across server processes NOT RUN: set ARTIFACTSTORE_TEST_PG_URL (two processes need PostgreSQL).',
  );
}

/**
 * The built server in child processes on one PostgreSQL database and one blob storage: an upload outlives the
 * process that began it (SIGKILL, then a restart) and continues on another process. Both must hash the bytes staged
 * before they saw any: the declared sha256 and blake3 are checked at the last byte.
 */
describe.each(pgUrl ? backends() : [])('tus uploads across server processes on $name', (backend) => {
  let testDatabase: TestDatabase;
  let one: ServerChild;
  let two: ServerChild;

  beforeAll(async () => {
    const env = backend.env();
    testDatabase = await createScratchPostgres(pgUrl ?? '', env);
    const database = testDatabase.config.database;
    const options = {
      dataDir: testDatabase.config.dataDir,
      databaseUrl: database.dialect === 'postgres' ? database.url : undefined,
      env,
    };
    one = await ServerChild.start(options);
    two = await ServerChild.start(options);
  });

  afterAll(async () => {
    await two.stop();
    await one.stop();
    await testDatabase.dispose();
  });

  const newPackage = async (url: string): Promise<string> => {
    const response = await fetch(`${url}/v1/packages`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        name: 'tus',
        producer: 'ci',
        subject: 'processes',
        retention_class: 'standard',
      }),
    });
    expect(response.status).toBe(201);
    return ((await response.json()) as { id: string }).id;
  };

  const download = async (url: string, id: string, path: string): Promise<Buffer> => {
    const response = await fetch(`${url}/v1/packages/${id}/files/${path}`);
    expect(response.status).toBe(200);
    return Buffer.from(await response.arrayBuffer());
  };

  const metadataOf = (bytes: Buffer, path: string): Record<string, string> => ({
    relative_path: path,
    sha256: sha256(bytes).toString('hex'),
    blake3: blake3(bytes).toString('hex'),
  });

  it('resumes an upload after its server was killed (SIGKILL) and started again', async () => {
    const id = await newPackage(one.url);
    const bytes = randomBytes(3 * CHUNK + 12345);
    const endpoint = `${one.url}/v1/packages/${id}/uploads`;
    const metadata = metadataOf(bytes, 'killed.bin');
    const begun = await tusUpload({ endpoint, bytes, chunkSize: CHUNK, metadata, stopAfter: 2 * CHUNK });
    expect(begun.finished).toBe(false);
    await one.kill('SIGKILL');
    await one.restart();
    const resumed = await tusUpload({ endpoint, bytes, chunkSize: CHUNK, metadata, uploadUrl: begun.url });
    expect(resumed.finished).toBe(true);
    expect(resumed.url).toBe(begun.url);
    expect((await download(one.url, id, 'killed.bin')).equals(bytes)).toBe(true);
    expect(one.unexpectedExits).toEqual([]);
  });

  it('resumes on a second server process an upload that the first began', async () => {
    const id = await newPackage(one.url);
    const bytes = randomBytes(2 * CHUNK + 777);
    const metadata = metadataOf(bytes, 'moved.bin');
    const begun = await tusUpload({
      endpoint: `${one.url}/v1/packages/${id}/uploads`,
      bytes,
      chunkSize: CHUNK,
      metadata,
      stopAfter: CHUNK,
    });
    const onTwo = new URL(new URL(begun.url).pathname, two.url).toString();
    const head = await fetch(onTwo, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } });
    expect(head.headers.get('upload-offset')).toBe(String(CHUNK));
    const resumed = await tusUpload({
      endpoint: `${two.url}/v1/packages/${id}/uploads`,
      bytes,
      chunkSize: CHUNK,
      metadata,
      uploadUrl: onTwo,
    });
    expect(resumed.finished).toBe(true);
    expect((await download(one.url, id, 'moved.bin')).equals(bytes)).toBe(true);
    expect((await download(two.url, id, 'moved.bin')).equals(bytes)).toBe(true);
  });
});
