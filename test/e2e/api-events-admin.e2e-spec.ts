import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { adminJobResult, runAdminJob } from '../support/admin-jobs.js';
import { startApi, type ApiHarness } from '../support/api-harness.js';
import { createPackage, expectProblem } from '../support/http-helpers.js';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';

const SERVER = 'dist/apps/server/src/main.js';

interface EventBody {
  sequence: number;
  event_type: string;
  subject_kind: string;
  subject_id: string;
  actor: string;
  created_at: string;
  payload_digest: string;
  chain_digest: string;
  payload: Record<string, unknown>;
}
interface EventsPage {
  events: EventBody[];
  next_since: number;
}

describe.each(dialectsUnderTest())('HTTP API: events and admin on $dialect', (dialectUnderTest) => {
  let testDatabase: TestDatabase;
  let api: ApiHarness;

  beforeAll(async () => {
    // A long poll interval: a long-poll that returns promptly was woken by a notification, not by polling.
    testDatabase = await dialectUnderTest.create({ ARTIFACTSTORE_TAIL_POLL_INTERVAL_MS: '60000' });
    api = await startApi(testDatabase);
  });

  /** Long-polls the server holds now, as /metrics reports them. */
  async function longPollsWaiting(): Promise<number> {
    const metrics = await api.http().get('/metrics').expect(200);
    return Number(/^artifactstore_waiting_clients\{kind="long_poll"\} (\d+)$/m.exec(metrics.text)?.[1]);
  }

  /** Uploads whose bytes are arriving now: their temporary files in the blob store. */
  async function uploadsInFlight(): Promise<number> {
    return (await readdir(join(testDatabase.config.dataDir, 'blobs', 'tmp'))).length;
  }

  afterAll(async () => {
    await api.close();
    await testDatabase.dispose();
  });

  const head = async (): Promise<number> =>
    ((await api.http().get('/readyz').expect(200)).body as { head_sequence: number }).head_sequence;

  it('lists events after `since` with their JSON payloads; the actor in local mode is local', async () => {
    const since = await head();
    const pkg = await createPackage(api, { name: 'evented', metadata: { k: 'v' } });
    await api.http().put(`/v1/packages/${pkg.id}/files/a.txt`).send(Buffer.from('a')).expect(201);
    const response = await api.http().get('/v1/events').query({ since }).expect(200);
    const page = response.body as EventsPage;
    expect(page.events.map((event) => [event.sequence, event.event_type])).toEqual([
      [since + 1, 'v1.package.created'],
      [since + 2, 'v1.file.ingested'],
    ]);
    expect(page.next_since).toBe(since + 2);
    expect(page.events[0]).toEqual({
      sequence: since + 1,
      event_type: 'v1.package.created',
      subject_kind: 'package',
      subject_id: pkg.id,
      actor: 'local',
      created_at: pkg.created_at,
      payload_digest: expect.stringMatching(/^[0-9a-f]{64}$/) as string,
      chain_digest: expect.stringMatching(/^[0-9a-f]{64}$/) as string,
      payload: {
        package_id: pkg.id,
        name: 'evented',
        producer: 'ci',
        subject: pkg.subject,
        retention_class: 'standard',
        ttl_days: 90,
        metadata: { k: 'v' },
      },
    });
    expect((page.events[1]?.payload as { blake3: string }).blake3).toMatch(/^[0-9a-f]{64}$/);
    const limited = (await api.http().get('/v1/events').query({ since, limit: 1 }).expect(200))
      .body as EventsPage;
    expect(limited.events).toHaveLength(1);
    expect(limited.next_since).toBe(since + 1);
    const none = (
      await api
        .http()
        .get('/v1/events')
        .query({ since: since + 2 })
        .expect(200)
    ).body as EventsPage;
    expect(none).toEqual({ events: [], next_since: since + 2 });
  });

  it.each([
    { since: '-1' },
    { since: 'x' },
    { limit: '0' },
    { limit: '1001' },
    { wait: '61' },
    { wait: '-1' },
    { sinse: '1' },
  ])('refuses %j: 400 invalid_input', async (query) => {
    expectProblem(await api.http().get('/v1/events').query(query), 400, 'invalid_input');
  });

  it('holds a long-poll until an event commits in this process', async () => {
    const since = await head();
    const poll = api.http().get('/v1/events').query({ since, wait: 30 });
    const pending = poll.then((response) => response);
    await until(async () => (await longPollsWaiting()) === 1);
    const pkg = await createPackage(api);
    const response = await pending;
    expect(response.status).toBe(200);
    expect((response.body as EventsPage).events[0]).toMatchObject({
      sequence: since + 1,
      subject_id: pkg.id,
    });
  });

  it('answers a long-poll with nothing new when the wait ends', async () => {
    const since = await head();
    const response = await api.http().get('/v1/events').query({ since, wait: 1 }).expect(200);
    expect(response.body).toEqual({ events: [], next_since: since });
  });

  it('a replay job rebuilds identical views; a verify job checks the chain', async () => {
    await createPackage(api);
    const replay = await runAdminJob(api.url, 'replay');
    expect(replay).toMatchObject({ kind: 'replay', state: 'succeeded', error: null });
    expect(replay.result).toEqual({
      highest_sequence: await head(),
      state_digest_before: expect.stringMatching(/^[0-9a-f]{64}$/) as string,
      state_digest_after: replay.result?.state_digest_before,
      identical: true,
      duration_ms: expect.any(Number) as number,
    });
    const headSequence = await head();
    const [last] = (
      (
        await api
          .http()
          .get(`/v1/events?since=${headSequence - 1}`)
          .expect(200)
      ).body as {
        events: { chain_digest: string }[];
      }
    ).events;
    expect((await runAdminJob(api.url, 'verify')).result).toEqual({
      ok: true,
      events_checked: headSequence,
      first_bad_sequence: null,
      head_sequence: headSequence,
      head_chain_digest: last?.chain_digest,
    });
  });

  it('replays while uploads run: every upload lands, and the views stay identical', async () => {
    const pkg = await createPackage(api);
    const uploads = Array.from({ length: 3 }, (_, index) =>
      slowUpload(`${api.url}/v1/packages/${pkg.id}/files/slow-${index}.bin`, 8, 64 * 1024, 50),
    );
    await until(async () => (await uploadsInFlight()) === 3);
    expect((await adminJobResult(api.url, 'replay')).identical).toBe(true);
    expect(await Promise.all(uploads)).toEqual([201, 201, 201]);
    const files = await api.http().get(`/v1/packages/${pkg.id}/files`).expect(200);
    expect((files.body as { items: unknown[] }).items).toHaveLength(3);
    expect((await adminJobResult(api.url, 'replay')).identical).toBe(true);
  });

  if (dialectUnderTest.dialect === 'postgres') {
    it('wakes a long-poll for a write made by a second server process on the same PostgreSQL', async () => {
      const child = await spawnServer(testDatabase);
      try {
        const since = await head();
        const pending = api
          .http()
          .get('/v1/events')
          .query({ since, wait: 30 })
          .then((response) => response);
        await until(async () => (await longPollsWaiting()) === 1);
        const created = await fetch(`${child.url}/v1/packages`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({
            name: 'remote',
            producer: 'other',
            subject: 's',
            retention_class: 'standard',
          }),
        });
        expect(created.status).toBe(201);
        const response = await pending;
        expect((response.body as EventsPage).events[0]).toMatchObject({
          sequence: since + 1,
          payload: { name: 'remote', producer: 'other' },
        });
      } finally {
        child.process.kill('SIGTERM');
        await once(child.process, 'exit');
      }
    });
  }
});

/** Resolves once `condition` holds, checking every 20 ms for at most 20 s. */
async function until(condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('the condition did not come true within 20 s');
    await sleep(20);
  }
}

/** PUT `chunks` chunks of `size` random bytes, one every `intervalMs`; resolves with the status. */
function slowUpload(url: string, chunks: number, size: number, intervalMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: 'PUT', headers: { 'Content-Length': String(chunks * size) } },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    let sent = 0;
    const next = (): void => {
      req.write(randomBytes(size));
      if (++sent === chunks) req.end();
      else setTimeout(next, intervalMs);
    };
    next();
  });
}

async function spawnServer(testDatabase: TestDatabase): Promise<{ process: ChildProcess; url: string }> {
  const database = testDatabase.config.database;
  if (database.dialect !== 'postgres') throw new Error('a second process needs PostgreSQL');
  const child = spawn(process.execPath, [SERVER], {
    env: {
      PATH: process.env.PATH,
      ARTIFACTSTORE_DATA_DIR: testDatabase.config.dataDir,
      ARTIFACTSTORE_DATABASE_URL: database.url,
      ARTIFACTSTORE_PORT: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = /listening on (http:\/\/[^\s]+)/.exec(output);
      if (match?.[1]) resolve(match[1].replace('[::1]', '127.0.0.1'));
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      reject(new Error(`second server exited with ${code}: ${output}`));
    });
  });
  return { process: child, url };
}
