import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { blake3, toHex } from '@artifactstore/codec';
import { BlobStore } from '@artifactstore/dataplane';
import { startApi, type ApiHarness } from '../support/api-harness.js';
import { createPackage, expectProblem } from '../support/http-helpers.js';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';
import { tokensJson } from '../support/tokens-file.js';

const TOKENS = { reader: 'reader-secret-1', producer: 'producer-secret-2', admin: 'admin-secret-3' } as const;
type Role = keyof typeof TOKENS;
const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

interface ScrubBody {
  state: 'idle' | 'running' | 'done' | 'failed';
  started_at: string | null;
  finished_at: string | null;
  checked: { blobs: number; bytes: number };
  missing: number;
  damaged: number;
  orphaned: number;
  findings: { blake3: string; kind: string; size: number }[];
  error: string | null;
}

describe.each(dialectsUnderTest())('HTTP API: scrub on $dialect', (dialectUnderTest) => {
  let testDatabase: TestDatabase;
  let api: ApiHarness;
  let tokensDir: string;

  beforeAll(async () => {
    tokensDir = await mkdtemp(join(tmpdir(), 'artifactstore-tokens-'));
    const tokensFile = join(tokensDir, 'tokens.json');
    await writeFile(tokensFile, tokensJson(TOKENS));
    testDatabase = await dialectUnderTest.create({ ARTIFACTSTORE_TOKENS_FILE: tokensFile });
    api = await startApi(testDatabase);
  });

  afterAll(async () => {
    await api.close();
    await testDatabase.dispose();
    await rm(tokensDir, { recursive: true, force: true });
  });

  const as = (role: Role) => ({
    get: () => api.http().get('/v1/admin/scrub').set('Authorization', `Bearer ${TOKENS[role]}`),
    post: () => api.http().post('/v1/admin/scrub').set('Authorization', `Bearer ${TOKENS[role]}`),
  });

  const upload = async (bytes: Buffer): Promise<void> => {
    const pkg = await createPackage(api, {}, TOKENS.producer);
    await api
      .http()
      .put(`/v1/packages/${pkg.id}/files/${randomBytes(4).toString('hex')}.bin`)
      .set('Authorization', `Bearer ${TOKENS.producer}`)
      .send(bytes)
      .expect(201);
  };

  /** Polls GET until the pass is no longer running. */
  const finished = async (): Promise<ScrubBody> => {
    for (;;) {
      const body = (await as('admin').get().expect(200)).body as ScrubBody;
      if (body.state !== 'running') return body;
      await sleep(20);
    }
  };

  it('keeps readers and producers out', async () => {
    for (const role of ['reader', 'producer'] as const) {
      expectProblem(await as(role).get(), 403, 'forbidden');
      expectProblem(await as(role).post(), 403, 'forbidden');
    }
  });

  it('starts a pass with 202, reports its progress, and lists a missing blob once it is done', async () => {
    const idle = (await as('admin').get().expect(200)).body as ScrubBody;
    expect(idle).toEqual({
      state: 'idle',
      started_at: null,
      finished_at: null,
      checked: { blobs: 0, bytes: 0 },
      missing: 0,
      damaged: 0,
      orphaned: 0,
      findings: [],
      error: null,
    });

    const healthy = randomBytes(3000);
    await upload(healthy);
    const started = (await as('admin').post().expect(202)).body as ScrubBody;
    expect(['running', 'done']).toContain(started.state);
    expect(started.started_at).toMatch(TIMESTAMP);
    const clean = await finished();
    expect(clean).toEqual({
      state: 'done',
      started_at: started.started_at,
      finished_at: expect.stringMatching(TIMESTAMP) as string,
      checked: { blobs: 1, bytes: healthy.length },
      missing: 0,
      damaged: 0,
      orphaned: 0,
      findings: [],
      error: null,
    });

    const lost = randomBytes(2000);
    await upload(lost);
    const key = toHex(blake3(lost));
    await api.app.get(BlobStore).delete(key);
    const head = ((await api.http().get('/readyz').expect(200)).body as { head_sequence: number })
      .head_sequence;
    await as('admin').post().expect(202);
    const report = await finished();
    expect(report).toMatchObject({
      state: 'done',
      checked: { blobs: 2, bytes: healthy.length },
      missing: 1,
      findings: [{ blake3: key, kind: 'missing', size: lost.length }],
    });
    const events = await api
      .http()
      .get('/v1/events')
      .query({ since: head })
      .set('Authorization', `Bearer ${TOKENS.reader}`)
      .expect(200);
    expect((events.body as { events: unknown[] }).events).toEqual([
      expect.objectContaining({
        event_type: 'v1.blob.damaged',
        subject_kind: 'blob',
        subject_id: key,
        actor: 'admin-bot',
        payload: { blake3: key, kind: 'missing' },
      }),
    ]);
  });
});
