import { randomBytes } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { blake3 } from '@artifactstore/codec';
import { openS3BlobStore, VERIFY_HOLD_BACK } from '@artifactstore/dataplane';
import { adminJobResult } from '../support/admin-jobs.js';
import { createScratchPostgres } from '../support/scratch-database.js';
import { startApi, type ApiHarness } from '../support/api-harness.js';
import { binary, expectProblem } from '../support/http-helpers.js';
import { spawnServer, type ServerProcess } from '../support/server-process.js';
import { testS3Connection } from '../support/test-s3.js';
import type { TestDatabase } from '../support/test-databases.js';

const s3 = testS3Connection();
const pgUrl = process.env.ARTIFACTSTORE_TEST_PG_URL;

/** The production shape: several server processes on one PostgreSQL and one bucket. */
describe('two servers on one PostgreSQL and one S3 bucket', () => {
  let testDatabase: TestDatabase;
  let one: ApiHarness;
  let two: ServerProcess;
  const prefix = `cluster-${randomBytes(4).toString('hex')}/`;

  beforeAll(async () => {
    if (!s3 || !pgUrl) return;
    const env = {
      ARTIFACTSTORE_STORAGE: 's3',
      ARTIFACTSTORE_S3_ENDPOINT: s3.endpoint ?? '',
      ARTIFACTSTORE_S3_BUCKET: s3.bucket,
      ARTIFACTSTORE_S3_PREFIX: prefix,
      ARTIFACTSTORE_S3_FORCE_PATH_STYLE: 'true',
      ARTIFACTSTORE_S3_ACCESS_KEY_ID: s3.accessKeyId ?? '',
      ARTIFACTSTORE_S3_SECRET_ACCESS_KEY: s3.secretAccessKey ?? '',
      // Only NOTIFY can wake the other process's long-poll within the test.
      ARTIFACTSTORE_TAIL_POLL_INTERVAL_MS: '60000',
    };
    testDatabase = await createScratchPostgres(pgUrl, env);
    one = await startApi(testDatabase);
    two = await spawnServer(testDatabase, env);
  });

  afterAll(async () => {
    if (!s3 || !pgUrl) return;
    await two.stop();
    await one.close();
    await testDatabase.dispose();
  });

  it('uploads through one, finalizes and downloads through the other; long-polls and replays agree', async () => {
    if (!s3 || !pgUrl) {
      // Outside CI, without both servers, testS3Connection has said so on the console.
      expect(process.env.CI).toBeUndefined();
      return;
    }
    const created = await one
      .http()
      .post('/v1/packages')
      .send({ name: 'cluster', producer: 'ci', subject: 'two-servers', retention_class: 'standard' })
      .expect(201);
    const id = (created.body as { id: string }).id;
    const bytes = randomBytes(6 * 1024 * 1024 + 5);
    const upload = await one.http().put(`/v1/packages/${id}/files/data.bin`).send(bytes).expect(201);
    expect((upload.body as { blake3: string }).blake3).toBe(blake3(bytes).toString('hex'));

    const sinceOnOne = ((await one.http().get('/readyz').expect(200)).body as { head_sequence: number })
      .head_sequence;
    const poll = one
      .http()
      .get('/v1/events')
      .query({ since: sinceOnOne, wait: 30 })
      .then((response) => response);
    await new Promise((resolve) => setTimeout(resolve, 300));

    const finalized = await fetch(`${two.url}/v1/packages/${id}/finalize`, { method: 'POST' });
    expect(finalized.status).toBe(200);
    const { content_address: address } = (await finalized.json()) as { content_address: string };
    const woken = await poll;
    expect(
      (woken.body as { events: { event_type: string }[] }).events.map((event) => event.event_type),
    ).toEqual(['v1.package.finalized']);

    const downloaded = await fetch(`${two.url}/v1/packages/${id}/files/data.bin`);
    expect(Buffer.from(await downloaded.arrayBuffer()).equals(bytes)).toBe(true);
    const manifest = await one.http().get(`/v1/manifests/${address}`).buffer(true).parse(binary).expect(200);
    expect(`blake3:${blake3(manifest.body as Buffer).toString('hex')}`).toBe(address);

    const replayOnOne = await adminJobResult(one.url, 'replay');
    const replayOnTwo = await adminJobResult(two.url, 'replay');
    expect(replayOnOne.identical).toBe(true);
    expect(replayOnTwo.state_digest_after).toBe(replayOnOne.state_digest_after);
    expectProblem(await one.http().post(`/v1/packages/${id}/finalize`), 409, 'illegal_package_state');
  });

  it('answers a damaged file as the filesystem backend does: 500 before its first byte, cut short after', async () => {
    if (!s3 || !pgUrl) {
      expect(process.env.CI).toBeUndefined();
      return;
    }
    const store = await openS3BlobStore({ ...s3, prefix });
    try {
      const created = await one
        .http()
        .post('/v1/packages')
        .send({ name: 'cluster', producer: 'ci', subject: 'damaged', retention_class: 'standard' })
        .expect(201);
      const id = (created.body as { id: string }).id;
      for (const [name, size] of [
        ['small.bin', VERIFY_HOLD_BACK - 1000],
        ['large.bin', 3 * VERIFY_HOLD_BACK],
      ] as const) {
        const bytes = randomBytes(size);
        const file = (await one.http().put(`/v1/packages/${id}/files/${name}`).send(bytes).expect(201))
          .body as { id: string; blake3: string };
        const objectKey = store.objectKey(file.blake3);
        const object = await store.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: objectKey }));
        const stored = Buffer.from((await object.Body?.transformToByteArray()) ?? []);
        stored[100] = (stored[100] ?? 0) ^ 0xff;
        await store.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: objectKey, Body: stored }));

        const response = await fetch(`${two.url}/v1/files/${file.id}`);
        if (size < VERIFY_HOLD_BACK) {
          expect(response.status).toBe(500);
          expect(response.headers.get('etag')).toBeNull();
          expect(((await response.json()) as { code: string }).code).toBe('integrity_error');
        } else {
          expect(response.status).toBe(200);
          await expect(response.arrayBuffer()).rejects.toThrow();
        }
      }
    } finally {
      store.client.destroy();
    }
  });
});
