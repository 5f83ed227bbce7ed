import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Response } from 'superagent';
import { Clock } from '@artifactstore/config';
import { adminJobResult } from '../support/admin-jobs.js';
import { startApi, type ApiHarness } from '../support/api-harness.js';
import { binary, expectProblem, type PackageBody } from '../support/http-helpers.js';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';
import { tokensJson } from '../support/tokens-file.js';

const TOKENS = { reader: 'reader-secret-1', producer: 'producer-secret-2', admin: 'admin-secret-3' } as const;
type Role = keyof typeof TOKENS;
const UNKNOWN_ID = '01890a5d-ac96-774b-bcce-b302099a8057';
const DAY_MS = 86_400_000;

interface LifecycleBody extends PackageBody {
  retention_class: string;
  finalized_at: string | null;
  expires_at: string | null;
  held: boolean;
  hold_reason: string | null;
  removed_at: string | null;
  removal_reason: string | null;
}

interface EventBody {
  sequence: number;
  event_type: string;
  subject_id: string;
  actor: string;
  payload: Record<string, unknown>;
}

interface GcBody {
  dry_run: boolean;
  expired: { id: string; reason: string }[];
  expired_count: number;
  collected: { blobs: number; bytes: number };
  kept: { held: number; latest: number };
  duration_ms: number;
}

/** A tokens file granting each role its token; dispose() removes it. */
async function writeTokensFile(): Promise<{ path: string; dispose: () => Promise<void> }> {
  const folder = await mkdtemp(join(tmpdir(), 'artifactstore-tokens-'));
  const path = join(folder, 'tokens.json');
  await writeFile(path, tokensJson(TOKENS));
  return { path, dispose: () => rm(folder, { recursive: true, force: true }) };
}

/** Requests as one role against one server. */
function clientOf(api: ApiHarness) {
  const auth = <T extends { set(name: string, value: string): T }>(call: T, role: Role): T =>
    call.set('Authorization', `Bearer ${TOKENS[role]}`);
  const client = {
    get: (path: string, role: Role = 'reader') => auth(api.http().get(path), role),
    head: (path: string, role: Role = 'reader') => auth(api.http().head(path), role),
    post: (path: string, role: Role = 'admin') => auth(api.http().post(path), role),
    put: (path: string, role: Role = 'admin') => auth(api.http().put(path), role),
    patch: (path: string, role: Role = 'admin') => auth(api.http().patch(path), role),
    delete: (path: string, role: Role = 'admin') => auth(api.http().delete(path), role),

    async create(fields: Record<string, unknown> = {}): Promise<LifecycleBody> {
      const response = await client
        .post('/v1/packages', 'producer')
        .send({
          name: `app-${randomBytes(4).toString('hex')}`,
          producer: 'ci',
          subject: `git:${randomBytes(4).toString('hex')}`,
          retention_class: 'standard',
          ...fields,
        })
        .expect(201);
      return response.body as LifecycleBody;
    },

    /** A finalized package with one file of random bytes at `a.txt`. */
    async finalized(fields: Record<string, unknown> = {}): Promise<{ pkg: LifecycleBody; fileId: string }> {
      const pkg = await client.create(fields);
      const upload = await client
        .put(`/v1/packages/${pkg.id}/files/a.txt`, 'producer')
        .set('Content-Type', 'text/plain')
        .send(randomBytes(3000))
        .expect(201);
      await client.post(`/v1/packages/${pkg.id}/finalize`, 'producer').expect(200);
      return { pkg: await client.show(pkg.id), fileId: (upload.body as { id: string }).id };
    },

    async show(id: string): Promise<LifecycleBody> {
      return (await client.get(`/v1/packages/${id}`).expect(200)).body as LifecycleBody;
    },

    async headSequence(): Promise<number> {
      return ((await api.http().get('/readyz').expect(200)).body as { head_sequence: number }).head_sequence;
    },

    async eventsSince(since: number): Promise<EventBody[]> {
      const response = await client.get('/v1/events').query({ since, limit: 1000 }).expect(200);
      return (response.body as { events: EventBody[] }).events;
    },

    async gc(body?: Record<string, unknown>): Promise<GcBody> {
      const call = client.post('/v1/admin/gc');
      const response = await (body === undefined ? call : call.send(body)).expect(200);
      return response.body as GcBody;
    },

    replay: () => adminJobResult(api.url, 'replay', { token: TOKENS.admin }),
    verify: () => adminJobResult(api.url, 'verify', { token: TOKENS.admin }),
  };
  return client;
}

/** The problem+json of `response`, with the package status where the code carries one. */
function expectGone(response: Response, status: string): void {
  expectProblem(response, 410, 'package_gone');
  expect(response.body).toMatchObject({ package_status: status });
}

describe.each(dialectsUnderTest())('HTTP API: package lifecycle on $dialect', (dialectUnderTest) => {
  let tokens: { path: string; dispose: () => Promise<void> };
  let testDatabase: TestDatabase;
  let api: ApiHarness;
  let client: ReturnType<typeof clientOf>;

  beforeAll(async () => {
    tokens = await writeTokensFile();
    // No grace: a run collects the blobs of what it finds removed; no scheduled run gets in a test's way.
    testDatabase = await dialectUnderTest.create({
      ARTIFACTSTORE_TOKENS_FILE: tokens.path,
      ARTIFACTSTORE_GC_GRACE_SECONDS: '0',
      ARTIFACTSTORE_GC_INTERVAL_SECONDS: '0',
    });
    api = await startApi(testDatabase);
    client = clientOf(api);
  });

  afterAll(async () => {
    await api.close();
    await testDatabase.dispose();
    await tokens.dispose();
  });

  describe('DELETE /v1/packages/{id}', () => {
    it('deletes a finalized package without a body: 200, status deleted, an empty reason', async () => {
      const { pkg } = await client.finalized();
      const before = await client.headSequence();
      const response = await client.delete(`/v1/packages/${pkg.id}`).expect(200);
      const deleted = response.body as LifecycleBody;
      expect(deleted).toEqual({
        ...pkg,
        status: 'deleted',
        // Whether a removed package shows its former deadline is not this test's business.
        expires_at: deleted.expires_at,
        removed_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) as string,
        removal_reason: '',
      });
      expect(await client.show(pkg.id)).toEqual(deleted);
      const events = await client.eventsSince(before);
      expect(events.map((event) => [event.event_type, event.subject_id, event.actor, event.payload])).toEqual(
        [['v1.package.deleted', pkg.id, 'admin-bot', { reason: '' }]],
      );
    });

    it('records the reason given', async () => {
      const pkg = await client.create();
      const response = await client
        .delete(`/v1/packages/${pkg.id}`)
        .send({ reason: 'built from the wrong branch' })
        .expect(200);
      expect(response.body).toMatchObject({
        id: pkg.id,
        status: 'deleted',
        removal_reason: 'built from the wrong branch',
      });
    });

    it('accepts a reason of exactly 1024 characters', async () => {
      const pkg = await client.create();
      const reason = 'é'.repeat(1024);
      const response = await client.delete(`/v1/packages/${pkg.id}`).send({ reason }).expect(200);
      expect(response.body).toMatchObject({ status: 'deleted', removal_reason: reason });
    });

    it.each([
      ['a reason over 1024 characters', { reason: 'x'.repeat(1025) }, 'reason'],
      ['a reason that is not text', { reason: 7 }, 'reason'],
      ['an unknown field', { reason: 'r', why: 'typo' }, 'why'],
    ])('refuses %s: 400 invalid_input, and deletes nothing', async (_what, body, field) => {
      const pkg = await client.create();
      const before = await client.headSequence();
      const response = await client.delete(`/v1/packages/${pkg.id}`).send(body);
      expectProblem(response, 400, 'invalid_input');
      expect(response.body).toMatchObject({ field });
      expect(await client.headSequence()).toBe(before);
      expect((await client.show(pkg.id)).status).toBe('created');
    });

    it('refuses a body that is not a JSON object: 400 invalid_input', async () => {
      const pkg = await client.create();
      const response = await client
        .delete(`/v1/packages/${pkg.id}`)
        .set('Content-Type', 'application/json')
        .send('["reason"]');
      expectProblem(response, 400, 'invalid_input');
    });

    it('answers 404 for an unknown package and 400 for a malformed id', async () => {
      expectProblem(await client.delete(`/v1/packages/${UNKNOWN_ID}`), 404, 'package_not_found');
      expectProblem(await client.delete('/v1/packages/nope'), 400, 'invalid_input');
    });

    it('lets a producer abort a package still created', async () => {
      const pkg = await client.create();
      const before = await client.headSequence();
      const response = await client
        .delete(`/v1/packages/${pkg.id}`, 'producer')
        .send({ reason: 'aborted' })
        .expect(200);
      expect(response.body).toMatchObject({ status: 'deleted', removal_reason: 'aborted' });
      expect(await client.eventsSince(before)).toEqual([
        expect.objectContaining({
          event_type: 'v1.package.deleted',
          subject_id: pkg.id,
          actor: 'producer-bot',
        }),
      ]);
    });

    it('refuses a producer a finalized package: 403 deletion_forbidden with its status', async () => {
      const { pkg } = await client.finalized();
      const before = await client.headSequence();
      const response = await client.delete(`/v1/packages/${pkg.id}`, 'producer');
      expectProblem(response, 403, 'deletion_forbidden');
      expect(response.body).toMatchObject({ package_status: 'finalized' });
      expect(await client.headSequence()).toBe(before);
      expect((await client.show(pkg.id)).status).toBe('finalized');
    });

    it('refuses a reader: 403 forbidden', async () => {
      const pkg = await client.create();
      expectProblem(await client.delete(`/v1/packages/${pkg.id}`, 'reader'), 403, 'forbidden');
      expect((await client.show(pkg.id)).status).toBe('created');
    });

    it('refuses a held package: 409 package_held, whoever asks', async () => {
      const pkg = await client.create();
      await client.put(`/v1/packages/${pkg.id}/hold`).send({ reason: 'audit' }).expect(200);
      expectProblem(await client.delete(`/v1/packages/${pkg.id}`), 409, 'package_held');
      expectProblem(await client.delete(`/v1/packages/${pkg.id}`, 'producer'), 409, 'package_held');
      expect(await client.show(pkg.id)).toMatchObject({ status: 'created', held: true });
    });

    it('refuses a package already deleted: 409 illegal_package_state with its status', async () => {
      const pkg = await client.create();
      await client.delete(`/v1/packages/${pkg.id}`).expect(200);
      const before = await client.headSequence();
      for (const role of ['admin', 'producer'] as const) {
        const response = await client.delete(`/v1/packages/${pkg.id}`, role);
        expectProblem(response, 409, 'illegal_package_state');
        expect(response.body).toMatchObject({ package_status: 'deleted' });
      }
      expect(await client.headSequence()).toBe(before);
    });
  });

  describe('PUT and DELETE /v1/packages/{id}/hold', () => {
    it('holds with a reason: held, no expiry shown; the same reason again appends nothing', async () => {
      const { pkg } = await client.finalized();
      expect(pkg.expires_at).not.toBeNull();
      const before = await client.headSequence();
      const first = await client
        .put(`/v1/packages/${pkg.id}/hold`)
        .send({ reason: 'legal hold 42' })
        .expect(200);
      expect(first.body).toEqual({ ...pkg, held: true, hold_reason: 'legal hold 42', expires_at: null });
      const second = await client
        .put(`/v1/packages/${pkg.id}/hold`)
        .send({ reason: 'legal hold 42' })
        .expect(200);
      expect(second.body).toEqual(first.body);
      const events = await client.eventsSince(before);
      expect(events.map((event) => [event.event_type, event.subject_id, event.payload])).toEqual([
        ['v1.package.held', pkg.id, { reason: 'legal hold 42' }],
      ]);
    });

    it('records a new reason as a new hold, and holds without a body with an empty reason', async () => {
      const pkg = await client.create();
      await client.put(`/v1/packages/${pkg.id}/hold`).expect(200);
      expect(await client.show(pkg.id)).toMatchObject({ held: true, hold_reason: '' });
      const before = await client.headSequence();
      await client.put(`/v1/packages/${pkg.id}/hold`).send({ reason: 'other' }).expect(200);
      expect(await client.show(pkg.id)).toMatchObject({ held: true, hold_reason: 'other' });
      expect((await client.eventsSince(before)).map((event) => event.event_type)).toEqual([
        'v1.package.held',
      ]);
    });

    it('releases: the expiry is shown again; releasing again appends nothing; then it can be deleted', async () => {
      const { pkg } = await client.finalized();
      await client.put(`/v1/packages/${pkg.id}/hold`).send({ reason: 'r' }).expect(200);
      const before = await client.headSequence();
      const released = await client.delete(`/v1/packages/${pkg.id}/hold`).expect(200);
      expect(released.body).toEqual({ ...pkg, held: false, hold_reason: null });
      await client.delete(`/v1/packages/${pkg.id}/hold`).expect(200);
      expect((await client.eventsSince(before)).map((event) => [event.event_type, event.payload])).toEqual([
        ['v1.package.released', {}],
      ]);
      await client.delete(`/v1/packages/${pkg.id}`).expect(200);
    });

    it.each([
      ['a reason over 1024 characters', { reason: 'x'.repeat(1025) }],
      ['an unknown field', { because: 'x' }],
    ])('refuses %s: 400 invalid_input', async (_what, body) => {
      const pkg = await client.create();
      expectProblem(await client.put(`/v1/packages/${pkg.id}/hold`).send(body), 400, 'invalid_input');
      expect((await client.show(pkg.id)).held).toBe(false);
    });

    it.each(['reader', 'producer'] as const)('refuses a %s: 403 forbidden', async (role) => {
      const pkg = await client.create();
      expectProblem(
        await client.put(`/v1/packages/${pkg.id}/hold`, role).send({ reason: 'r' }),
        403,
        'forbidden',
      );
      await client.put(`/v1/packages/${pkg.id}/hold`).send({ reason: 'r' }).expect(200);
      expectProblem(await client.delete(`/v1/packages/${pkg.id}/hold`, role), 403, 'forbidden');
      expect((await client.show(pkg.id)).held).toBe(true);
    });

    it('answers 404 for an unknown package, 409 illegal_package_state for a deleted one', async () => {
      expectProblem(await client.put(`/v1/packages/${UNKNOWN_ID}/hold`), 404, 'package_not_found');
      expectProblem(await client.delete(`/v1/packages/${UNKNOWN_ID}/hold`), 404, 'package_not_found');
      const pkg = await client.create();
      await client.delete(`/v1/packages/${pkg.id}`).expect(200);
      for (const response of [
        await client.put(`/v1/packages/${pkg.id}/hold`).send({ reason: 'late' }),
        await client.delete(`/v1/packages/${pkg.id}/hold`),
      ]) {
        expectProblem(response, 409, 'illegal_package_state');
        expect(response.body).toMatchObject({ package_status: 'deleted' });
      }
    });
  });

  describe('PATCH /v1/packages/{id}', () => {
    it('changes the retention class: GET shows it, and expires_at = finalized_at + the ttl days', async () => {
      const { pkg } = await client.finalized({ retention_class: 'ephemeral' });
      const finalizedAt = Date.parse(pkg.finalized_at!);
      expect(pkg.expires_at).toBe(new Date(finalizedAt + 7 * DAY_MS).toISOString());
      const before = await client.headSequence();
      const response = await client
        .patch(`/v1/packages/${pkg.id}`)
        .send({ retention_class: 'long_term' })
        .expect(200);
      const changed = await client.show(pkg.id);
      expect(response.body).toEqual(changed);
      expect(changed).toEqual({
        ...pkg,
        retention_class: 'long_term',
        expires_at: new Date(finalizedAt + 3650 * DAY_MS).toISOString(),
      });
      expect((await client.eventsSince(before)).map((event) => [event.event_type, event.payload])).toEqual([
        ['v1.package.retention_changed', { retention_class: 'long_term', ttl_days: 3650 }],
      ]);
      // The same class again appends nothing; a class that never expires shows no expiry.
      await client.patch(`/v1/packages/${pkg.id}`).send({ retention_class: 'long_term' }).expect(200);
      expect(await client.headSequence()).toBe(before + 1);
      await client.patch(`/v1/packages/${pkg.id}`).send({ retention_class: 'permanent' }).expect(200);
      expect(await client.show(pkg.id)).toMatchObject({ retention_class: 'permanent', expires_at: null });
    });

    it('changes the class of a package still created: no expiry until it is finalized', async () => {
      const pkg = await client.create({ retention_class: 'standard' });
      await client.patch(`/v1/packages/${pkg.id}`).send({ retention_class: 'ephemeral' }).expect(200);
      expect(await client.show(pkg.id)).toMatchObject({ retention_class: 'ephemeral', expires_at: null });
    });

    it('refuses an unknown class: 422 unknown_retention_class with the known ones', async () => {
      const pkg = await client.create();
      const before = await client.headSequence();
      const response = await client.patch(`/v1/packages/${pkg.id}`).send({ retention_class: 'forever' });
      expectProblem(response, 422, 'unknown_retention_class');
      expect(response.body).toMatchObject({
        known_retention_classes: ['ephemeral', 'long_term', 'permanent', 'standard'],
      });
      expect(await client.headSequence()).toBe(before);
    });

    it.each([
      ['no retention_class', {}],
      ['an unknown field', { retention_class: 'standard', ttl_days: 3 }],
      ['a class that is not text', { retention_class: 3 }],
    ])('refuses %s: 400 invalid_input', async (_what, body) => {
      const pkg = await client.create();
      expectProblem(await client.patch(`/v1/packages/${pkg.id}`).send(body), 400, 'invalid_input');
    });

    it.each(['reader', 'producer'] as const)('refuses a %s: 403 forbidden', async (role) => {
      const pkg = await client.create();
      const response = await client
        .patch(`/v1/packages/${pkg.id}`, role)
        .send({ retention_class: 'permanent' });
      expectProblem(response, 403, 'forbidden');
      expect((await client.show(pkg.id)).retention_class).toBe('standard');
    });

    it('answers 404 for an unknown package, 409 illegal_package_state for a deleted one', async () => {
      expectProblem(
        await client.patch(`/v1/packages/${UNKNOWN_ID}`).send({ retention_class: 'permanent' }),
        404,
        'package_not_found',
      );
      const pkg = await client.create();
      await client.delete(`/v1/packages/${pkg.id}`).expect(200);
      const response = await client.patch(`/v1/packages/${pkg.id}`).send({ retention_class: 'permanent' });
      expectProblem(response, 409, 'illegal_package_state');
      expect(response.body).toMatchObject({ package_status: 'deleted' });
    });
  });

  describe('a deleted finalized package', () => {
    let pkg: LifecycleBody;
    let fileId: string;
    let cbor: Buffer;

    beforeAll(async () => {
      ({ pkg, fileId } = await client.finalized());
      const manifest = await client
        .get(`/v1/packages/${pkg.id}/manifest`)
        .buffer(true)
        .parse(binary)
        .expect(200);
      cbor = manifest.body as Buffer;
      await client.delete(`/v1/packages/${pkg.id}`).send({ reason: 'superseded' }).expect(200);
    });

    it('is listed by ?status=deleted, and not by ?status=finalized', async () => {
      const listed = async (status: string): Promise<string[]> => {
        const response = await client.get('/v1/packages').query({ name: pkg.name, status }).expect(200);
        return (response.body as { items: { id: string }[] }).items.map((item) => item.id);
      };
      expect(await listed('deleted')).toEqual([pkg.id]);
      expect(await listed('finalized')).toEqual([]);
      expect(await listed('expired')).toEqual([]);
      expect(await listed('created')).toEqual([]);
    });

    it('keeps its metadata and its manifest, by id and by content address', async () => {
      expect(await client.show(pkg.id)).toMatchObject({
        id: pkg.id,
        status: 'deleted',
        content_address: pkg.content_address,
        removal_reason: 'superseded',
      });
      const byId = await client.get(`/v1/packages/${pkg.id}/manifest`).buffer(true).parse(binary).expect(200);
      expect(byId.body).toEqual(cbor);
      const byAddress = await client
        .get(`/v1/manifests/${pkg.content_address}`)
        .buffer(true)
        .parse(binary)
        .expect(200);
      expect(byAddress.body).toEqual(cbor);
      const json = await client
        .get(`/v1/manifests/${pkg.content_address}`)
        .query({ format: 'json' })
        .expect(200);
      expect(json.body).toMatchObject({ package: expect.objectContaining({ id: pkg.id }) as unknown });
    });

    it('no longer serves its files: 410 package_gone with its status, by path and by id', async () => {
      expectGone(await client.get(`/v1/packages/${pkg.id}/files/a.txt`), 'deleted');
      expectGone(await client.get(`/v1/files/${fileId}`), 'deleted');
      // Its file list stays readable: it is metadata.
      const files = await client.get(`/v1/packages/${pkg.id}/files`).expect(200);
      expect((files.body as { items: { id: string }[] }).items.map((file) => file.id)).toEqual([fileId]);
    });

    it('answers HEAD of its files 410 too', async () => {
      expect((await client.head(`/v1/files/${fileId}`)).status).toBe(410);
    });

    it('answers a conditional GET of its files 410 too, not 304', async () => {
      const file = await client.get(`/v1/packages/${pkg.id}/files`).expect(200);
      const [etag] = (file.body as { items: { blake3: string }[] }).items.map((item) => `"${item.blake3}"`);
      expectGone(await client.get(`/v1/files/${fileId}`).set('If-None-Match', etag!), 'deleted');
    });

    it('still answers 410 (not 404) and keeps its manifest after a collection, which replays identically and verifies', async () => {
      const before = await client.headSequence();
      const report = await client.gc({});
      expect(report).toMatchObject({ dry_run: false, expired_count: 0 });
      expect(report.collected.blobs).toBeGreaterThanOrEqual(1);
      const collected = (await client.eventsSince(before)).filter(
        (event) => event.event_type === 'v1.blob.collected',
      );
      expect(collected).toHaveLength(report.collected.blobs);
      expectGone(await client.get(`/v1/packages/${pkg.id}/files/a.txt`), 'deleted');
      await client.get(`/v1/manifests/${pkg.content_address}`).expect(200);
      const replay = await client.replay();
      expect(replay).toMatchObject({ identical: true });
      expect(replay.state_digest_after).toBe(replay.state_digest_before);
      expect(await client.verify()).toMatchObject({
        ok: true,
        first_bad_sequence: null,
        events_checked: await client.headSequence(),
      });
    });
  });

  describe('POST /v1/admin/gc', () => {
    it('with dry_run: reports what would go, changes nothing and appends nothing', async () => {
      const { pkg, fileId } = await client.finalized();
      await client.delete(`/v1/packages/${pkg.id}`).expect(200);
      const before = await client.headSequence();
      const digest = (await client.replay()).state_digest_after;
      const report = await client.gc({ dry_run: true });
      expect(report).toMatchObject({ dry_run: true, expired: [], expired_count: 0 });
      expect(report.collected.blobs).toBeGreaterThanOrEqual(1);
      expect(report.collected.bytes).toBeGreaterThanOrEqual(3000);
      expect(await client.headSequence()).toBe(before);
      expect((await client.replay()).state_digest_before).toBe(digest);
      // A real run then collects what the dry run reported.
      const run = await client.gc();
      expect(run.dry_run).toBe(false);
      expect(run.collected).toEqual(report.collected);
      expect(await client.headSequence()).toBe(before + report.collected.blobs);
      expectGone(await client.get(`/v1/files/${fileId}`), 'deleted');
    });

    it('runs without a body, and a second run finds nothing left', async () => {
      await client.gc();
      const before = await client.headSequence();
      expect(await client.gc()).toMatchObject({
        dry_run: false,
        expired_count: 0,
        collected: { blobs: 0, bytes: 0 },
      });
      expect(await client.headSequence()).toBe(before);
    });

    it.each([
      ['dry_run that is not a boolean', { dry_run: 'yes' }],
      ['an unknown field', { dryrun: true }],
    ])('refuses %s: 400 invalid_input', async (_what, body) => {
      expectProblem(await client.post('/v1/admin/gc').send(body), 400, 'invalid_input');
    });

    it.each(['reader', 'producer'] as const)('refuses a %s: 403 forbidden', async (role) => {
      expectProblem(await client.post('/v1/admin/gc', role).send({ dry_run: true }), 403, 'forbidden');
    });
  });
});

describe.each(dialectsUnderTest())('HTTP API: expired packages on $dialect', (dialectUnderTest) => {
  let tokens: { path: string; dispose: () => Promise<void> };
  let testDatabase: TestDatabase;
  let api: ApiHarness;
  let client: ReturnType<typeof clientOf>;
  let offsetMs = 0;

  beforeAll(async () => {
    tokens = await writeTokensFile();
    testDatabase = await dialectUnderTest.create({
      ARTIFACTSTORE_TOKENS_FILE: tokens.path,
      ARTIFACTSTORE_GC_GRACE_SECONDS: '0',
      ARTIFACTSTORE_GC_INTERVAL_SECONDS: '0',
      ARTIFACTSTORE_ABANDONED_AFTER_HOURS: '1',
      ARTIFACTSTORE_KEEP_LATEST_PER_NAME: '0',
    });
    api = await startApi(testDatabase);
    // The server's clock, moved forward by the tests instead of waiting hours or days.
    api.app.get(Clock).now = () => Date.now() + offsetMs;
    client = clientOf(api);
  });

  afterAll(async () => {
    await api.close();
    await testDatabase.dispose();
    await tokens.dispose();
  });

  it('expires an abandoned package and a finalized one past its retention; a held one is kept', async () => {
    const abandoned = await client.create();
    const { pkg: due, fileId } = await client.finalized({ retention_class: 'ephemeral' });
    const { pkg: held } = await client.finalized({ retention_class: 'ephemeral' });
    await client.put(`/v1/packages/${held.id}/hold`).send({ reason: 'audit' }).expect(200);
    offsetMs += 8 * DAY_MS;

    const dry = await client.gc({ dry_run: true });
    const before = await client.headSequence();
    expect(dry).toMatchObject({ dry_run: true, expired_count: 2, kept: { held: 1, latest: 0 } });
    const report = await client.gc();
    expect(report).toMatchObject({ dry_run: false, expired_count: 2, kept: { held: 1, latest: 0 } });
    expect([...report.expired].sort((a, b) => a.id.localeCompare(b.id))).toEqual(
      [
        { id: abandoned.id, reason: 'abandoned' },
        { id: due.id, reason: 'retention' },
      ].sort((a, b) => a.id.localeCompare(b.id)),
    );
    expect(report.expired).toEqual(expect.arrayContaining(dry.expired));
    expect(await client.headSequence()).toBeGreaterThan(before);

    expect(await client.show(abandoned.id)).toMatchObject({ status: 'expired', removal_reason: 'abandoned' });
    expect(await client.show(due.id)).toMatchObject({
      status: 'expired',
      removal_reason: 'retention',
      removed_at: expect.any(String) as string,
    });
    expect(await client.show(held.id)).toMatchObject({ status: 'finalized', held: true, expires_at: null });
    const listed = await client.get('/v1/packages').query({ status: 'expired' }).expect(200);
    expect((listed.body as { items: { id: string }[] }).items.map((item) => item.id).sort()).toEqual(
      [abandoned.id, due.id].sort(),
    );

    // The files of an expired package are gone (410), its manifest stays.
    expectGone(await client.get(`/v1/files/${fileId}`), 'expired');
    expectGone(await client.get(`/v1/packages/${due.id}/files/a.txt`), 'expired');
    await client.get(`/v1/manifests/${due.content_address}`).expect(200);

    // An expired package cannot be deleted, held, released or reclassified.
    for (const response of [
      await client.delete(`/v1/packages/${due.id}`),
      await client.delete(`/v1/packages/${due.id}`, 'producer'),
      await client.put(`/v1/packages/${due.id}/hold`).send({ reason: 'too late' }),
      await client.delete(`/v1/packages/${due.id}/hold`),
      await client.patch(`/v1/packages/${due.id}`).send({ retention_class: 'permanent' }),
    ]) {
      expectProblem(response, 409, 'illegal_package_state');
      expect(response.body).toMatchObject({ package_status: 'expired' });
    }

    // Released, the held package expires at the next run.
    await client.delete(`/v1/packages/${held.id}/hold`).expect(200);
    expect(await client.gc()).toMatchObject({ expired: [{ id: held.id, reason: 'retention' }] });

    expect(await client.replay()).toMatchObject({ identical: true });
    expect(await client.verify()).toMatchObject({ ok: true });
  });
});
