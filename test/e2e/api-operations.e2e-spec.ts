import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NestExpressApplication } from '@nestjs/platform-express';
import request from 'supertest';
import { HEADERS_TIMEOUT_MS, RequestDrain } from '@artifactstore/api';
import { sha256 } from '@artifactstore/codec';
import { BlobStore } from '@artifactstore/dataplane';
import { createLog, createServerApp } from '@artifactstore/server';
import { expectProblem } from '../support/http-helpers.js';
import { dialectsUnderTest, type DialectUnderTest, type TestDatabase } from '../support/test-databases.js';

const TOKENS = { reader: 'reader-Zq81-secret', producer: 'producer-Xw42-secret' } as const;

/** The real server with its JSON log captured line by line. */
interface LoggedApi {
  readonly app: NestExpressApplication;
  readonly url: string;
  readonly lines: Record<string, unknown>[];
  readonly text: () => string;
  http(): ReturnType<typeof request>;
  close(): Promise<void>;
}

async function startLoggedApi(testDatabase: TestDatabase): Promise<LoggedApi> {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString('utf8'));
      callback();
    },
  });
  const app = await createServerApp(testDatabase.config, { log: createLog('info', sink) });
  await app.listen(0, '127.0.0.1');
  const server = app.getHttpServer();
  const { port } = server.address() as AddressInfo;
  const text = (): string => chunks.join('');
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    get lines() {
      return text()
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    },
    text,
    http: () => request(server),
    close: () => app.close(),
  };
}

async function tokensFile(dir: string): Promise<string> {
  const path = join(dir, 'tokens.json');
  await writeFile(
    path,
    JSON.stringify([
      { name: 'reader-bot', token_sha256: sha256(TOKENS.reader).toString('hex'), role: 'reader' },
      { name: 'producer-bot', token_sha256: sha256(TOKENS.producer).toString('hex'), role: 'producer' },
    ]),
  );
  return path;
}

const NEW_PACKAGE = { name: 'app', producer: 'ci', subject: 'git:1', retention_class: 'standard' };

/** Waits (generously) for the log line of the request with this id; the line is written as the response closes. */
async function logLineOf(api: LoggedApi, requestId: string): Promise<Record<string, unknown>> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const line = api.lines.find((entry) => entry.request_id === requestId && entry.msg !== undefined);
    if (line && 'status' in line) return line;
    await sleep(25);
  }
  throw new Error(`no log line for request ${requestId}`);
}

async function metricValue(api: LoggedApi, pattern: RegExp): Promise<number> {
  const text = (await api.http().get('/metrics').expect(200)).text;
  const match = pattern.exec(text);
  return match?.[1] === undefined ? NaN : Number(match[1]);
}

describe.each(dialectsUnderTest())('operations on $dialect', (dialectUnderTest: DialectUnderTest) => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'artifactstore-ops-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('behind a trusted gateway (127.0.0.1/32)', () => {
    let testDatabase: TestDatabase;
    let api: LoggedApi;

    beforeAll(async () => {
      testDatabase = await dialectUnderTest.create({
        ARTIFACTSTORE_TOKENS_FILE: await tokensFile(dir),
        ARTIFACTSTORE_TRUSTED_PROXIES: '10.0.0.0/8, 127.0.0.1/32, ::1',
      });
      api = await startLoggedApi(testDatabase);
    });

    afterAll(async () => {
      await api.close();
      await testDatabase.dispose();
    });

    it('takes the actor and role the gateway names, and the client address from X-Forwarded-For', async () => {
      const response = await api
        .http()
        .post('/v1/packages')
        .set('X-Forwarded-User', 'alice@example.org')
        .set('X-Forwarded-Role', 'producer')
        .set('X-Forwarded-For', '203.0.113.9, 10.1.2.3')
        .send(NEW_PACKAGE)
        .expect(201);
      const events = await api
        .http()
        .get('/v1/events')
        .set('Authorization', `Bearer ${TOKENS.reader}`)
        .expect(200);
      const created = (events.body as { events: { actor: string; subject_id: string }[] }).events.find(
        (event) => event.subject_id === (response.body as { id: string }).id,
      );
      expect(created?.actor).toBe('alice@example.org');
      const line = await logLineOf(api, response.headers['x-request-id'] as string);
      expect(line).toMatchObject({ actor: 'alice@example.org', client_address: '203.0.113.9', status: 201 });
    });

    it('walks X-Forwarded-For from the right past trusted proxies, and falls back to the peer on junk', async () => {
      const cases: [string, string][] = [
        ['10.0.0.3, 10.0.0.2', '10.0.0.3'],
        ['not-an-address, 198.51.100.4, 10.0.0.2', '198.51.100.4'],
        ['garbage', '127.0.0.1'],
        ['203.0.113.9, ', '127.0.0.1'],
        ['203.0.113.9:4711', '127.0.0.1'],
        ['203.0.113.9, 10.0.0.2 junk', '127.0.0.1'],
      ];
      for (const [forwardedFor, expected] of cases) {
        const response = await api
          .http()
          .get('/v1/packages')
          .set('Authorization', `Bearer ${TOKENS.reader}`)
          .set('X-Forwarded-For', forwardedFor)
          .expect(200);
        const line = await logLineOf(api, response.headers['x-request-id'] as string);
        expect([forwardedFor, line.client_address]).toEqual([forwardedFor, expected]);
      }
    });

    it("keeps the gateway's X-Request-Id when it is sane, and replaces one that is not", async () => {
      const kept = await api
        .http()
        .get('/v1/packages')
        .set('Authorization', `Bearer ${TOKENS.reader}`)
        .set('X-Request-Id', 'gateway-7f3a.1:2')
        .expect(200);
      expect(kept.headers['x-request-id']).toBe('gateway-7f3a.1:2');
      expect(await logLineOf(api, 'gateway-7f3a.1:2')).toMatchObject({ status: 200, actor: 'reader-bot' });
      for (const insane of ['bad id with spaces', 'x'.repeat(129), 'a\u00e9b']) {
        const replaced = await api.http().get('/healthz').set('X-Request-Id', encodeURI(insane));
        expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      }
    });

    it("lets the gateway's identity win over a bearer token it passes along", async () => {
      await api
        .http()
        .post('/v1/packages')
        .set('Authorization', `Bearer ${TOKENS.reader}`)
        .set('X-Forwarded-User', 'bob')
        .set('X-Forwarded-Role', 'producer')
        .send(NEW_PACKAGE)
        .expect(201);
      const refused = await api
        .http()
        .post('/v1/packages')
        .set('Authorization', `Bearer ${TOKENS.producer}`)
        .set('X-Forwarded-User', 'carol')
        .set('X-Forwarded-Role', 'reader')
        .send(NEW_PACKAGE);
      expectProblem(refused, 403, 'forbidden');
    });

    it('refuses a named user without a valid role with 401', async () => {
      for (const role of [undefined, 'root', 'Admin', '']) {
        const call = api.http().get('/v1/packages').set('X-Forwarded-User', 'dave');
        if (role !== undefined) void call.set('X-Forwarded-Role', role);
        expectProblem(await call, 401, 'unauthorized');
      }
      const tooLong = await api
        .http()
        .get('/v1/packages')
        .set('X-Forwarded-User', 'x'.repeat(257))
        .set('X-Forwarded-Role', 'reader');
      expectProblem(tooLong, 401, 'unauthorized');
    });

    it('falls back to bearer tokens when the gateway names nobody', async () => {
      expectProblem(
        await api.http().get('/v1/packages').set('X-Forwarded-Role', 'admin'),
        401,
        'unauthorized',
      );
      await api.http().get('/v1/packages').set('Authorization', `Bearer ${TOKENS.reader}`).expect(200);
    });
  });

  describe('with a gateway elsewhere (10.0.0.0/8), asked from 127.0.0.1', () => {
    let testDatabase: TestDatabase;
    let api: LoggedApi;

    beforeAll(async () => {
      testDatabase = await dialectUnderTest.create({
        ARTIFACTSTORE_TOKENS_FILE: await tokensFile(dir),
        ARTIFACTSTORE_TRUSTED_PROXIES: '10.0.0.0/8',
      });
      api = await startLoggedApi(testDatabase);
    });

    afterAll(async () => {
      await api.close();
      await testDatabase.dispose();
    });

    it('ignores X-Forwarded-User and -Role: a token is still needed, and its role holds', async () => {
      const anonymous = await api
        .http()
        .post('/v1/packages')
        .set('X-Forwarded-User', 'mallory')
        .set('X-Forwarded-Role', 'admin')
        .send(NEW_PACKAGE);
      expectProblem(anonymous, 401, 'unauthorized');
      const reader = await api
        .http()
        .post('/v1/packages')
        .set('Authorization', `Bearer ${TOKENS.reader}`)
        .set('X-Forwarded-User', 'mallory')
        .set('X-Forwarded-Role', 'admin')
        .send(NEW_PACKAGE);
      expectProblem(reader, 403, 'forbidden');
    });

    it('ignores X-Request-Id: the id is made here, for the response and the log alike', async () => {
      const response = await api
        .http()
        .get('/v1/packages')
        .set('Authorization', `Bearer ${TOKENS.reader}`)
        .set('X-Request-Id', 'spoofed-by-client')
        .expect(200);
      const requestId = response.headers['x-request-id'] as string;
      expect(requestId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(await logLineOf(api, requestId)).toMatchObject({ actor: 'reader-bot', status: 200 });
      expect(api.text()).not.toContain('spoofed-by-client');
    });

    it('ignores X-Forwarded-For: the log has the socket peer', async () => {
      const response = await api
        .http()
        .get('/v1/packages')
        .set('Authorization', `Bearer ${TOKENS.reader}`)
        .set('X-Forwarded-For', '198.51.100.1')
        .expect(200);
      const line = await logLineOf(api, response.headers['x-request-id'] as string);
      expect(line).toMatchObject({ actor: 'reader-bot', client_address: '127.0.0.1' });
    });
  });

  describe('metrics and the request log', () => {
    let testDatabase: TestDatabase;
    let api: LoggedApi;

    beforeAll(async () => {
      testDatabase = await dialectUnderTest.create({ ARTIFACTSTORE_TOKENS_FILE: await tokensFile(dir) });
      api = await startLoggedApi(testDatabase);
    });

    afterAll(async () => {
      await api.close();
      await testDatabase.dispose();
    });

    const producer = `Bearer ${TOKENS.producer}`;

    it('counts requests by route pattern and status, bytes, transfers, events and connections', async () => {
      const created = await api.http().post('/v1/packages').set('Authorization', producer).send(NEW_PACKAGE);
      const id = (created.body as { id: string }).id;
      const body = Buffer.alloc(100_000, 7);
      const upload = await api
        .http()
        .put(`/v1/packages/${id}/files/dir/a.bin`)
        .set('Authorization', producer)
        .send(body)
        .expect(201);
      await api
        .http()
        .get(`/v1/files/${(upload.body as { id: string }).id}`)
        .set('Authorization', producer)
        .expect(200);
      expectProblem(await api.http().get('/v1/packages'), 401, 'unauthorized');

      // Open to scrapers, like /healthz: no token.
      const scrape = await api.http().get('/metrics').expect(200);
      expect(scrape.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = scrape.text;
      expect(text).toContain(
        'artifactstore_http_requests_total{method="PUT",route="/v1/packages/:id/files/*path",status="201"} 1',
      );
      expect(text).toContain(
        'artifactstore_http_requests_total{method="GET",route="/v1/files/:id",status="200"} 1',
      );
      expect(text).toContain(
        'artifactstore_http_requests_total{method="GET",route="/v1/packages",status="401"} 1',
      );
      expect(text).not.toContain(id);
      const received = Number(
        /artifactstore_http_received_bytes_total\{route="\/v1\/packages\/:id\/files\/\*path"\} (\d+)/.exec(
          text,
        )?.[1],
      );
      expect(received).toBeGreaterThanOrEqual(body.length);
      const sent = Number(
        /artifactstore_http_sent_bytes_total\{route="\/v1\/files\/:id"\} (\d+)/.exec(text)?.[1],
      );
      expect(sent).toBeGreaterThanOrEqual(body.length);
      expect(text).toContain('artifactstore_ingest_duration_seconds_count{status="201"} 1');
      expect(text).toContain('artifactstore_download_duration_seconds_count{status="200"} 1');
      expect(text).toMatch(/artifactstore_events_appended_total 2\n/);
      expect(text).toMatch(/artifactstore_db_connections\{state="max"\} \d+\n/);
      expect(text).toMatch(/artifactstore_db_connections\{state="in_use"\} \d+\n/);
    });

    it('shows an open long-poll and its tail in the gauges', async () => {
      const since = Number.MAX_SAFE_INTEGER - 1;
      const waiting = api
        .http()
        .get('/v1/events')
        .query({ since, wait: 30 })
        .set('Authorization', `Bearer ${TOKENS.reader}`)
        .then((response) => response);
      let longPolls = 0;
      for (let attempt = 0; attempt < 200 && longPolls !== 1; attempt++) {
        longPolls = await metricValue(api, /artifactstore_waiting_clients\{kind="long_poll"\} (\d+)/);
        if (longPolls !== 1) await sleep(25);
      }
      expect(longPolls).toBe(1);
      expect(await metricValue(api, /artifactstore_event_tails_open (\d+)/)).toBeGreaterThanOrEqual(1);
      // A long-poll after the last sequence ends only by its wait or by shutdown; closing the server answers it.
      await api.app.get(RequestDrain).drain(api.app.getHttpServer(), 10_000);
      const response = await waiting;
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ events: [], next_since: since });
    });
  });

  describe('unreferenced blobs in the metrics', () => {
    let testDatabase: TestDatabase;

    beforeAll(async () => {
      testDatabase = await dialectUnderTest.create({ ARTIFACTSTORE_TOKENS_FILE: await tokensFile(dir) });
    });

    afterAll(async () => {
      await testDatabase.dispose();
    });

    /** The gauges once the background scan after startup has finished (NaN until then). */
    async function scannedGauges(api: LoggedApi): Promise<{ blobs: number; bytes: number; at: number }> {
      for (let attempt = 0; attempt < 400; attempt++) {
        const text = (await api.http().get('/metrics').expect(200)).text;
        const gauge = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
        const at = gauge('artifactstore_unreferenced_blobs_scan_timestamp_seconds');
        if (!Number.isNaN(at)) {
          return {
            blobs: gauge('artifactstore_unreferenced_blobs'),
            bytes: gauge('artifactstore_unreferenced_blob_bytes'),
            at,
          };
        }
        await sleep(25);
      }
      throw new Error('no scan for unreferenced blobs finished');
    }

    it('counts a blob that a crash left without a file, scanned in the background after startup', async () => {
      const first = await startLoggedApi(testDatabase);
      try {
        const created = await first
          .http()
          .post('/v1/packages')
          .set('Authorization', `Bearer ${TOKENS.producer}`)
          .send(NEW_PACKAGE);
        await first
          .http()
          .put(`/v1/packages/${(created.body as { id: string }).id}/files/kept.bin`)
          .set('Authorization', `Bearer ${TOKENS.producer}`)
          .send(Buffer.alloc(2000, 1))
          .expect(201);
        // What a crash between an ingest's write and its commit leaves: a blob no file row names.
        await first.app.get(BlobStore).ingest([Buffer.alloc(12_345, 2)]);
      } finally {
        await first.close();
      }
      const startedAt = Date.now() / 1000;
      const second = await startLoggedApi(testDatabase);
      try {
        const gauges = await scannedGauges(second);
        expect(gauges).toEqual({ blobs: 1, bytes: 12_345, at: expect.any(Number) as number });
        expect(gauges.at).toBeGreaterThanOrEqual(Math.floor(startedAt));
        const help = (await second.http().get('/metrics')).text;
        expect(help).toMatch(
          /# HELP artifactstore_unreferenced_blobs .*garbage collector removes them once older than ARTIFACTSTORE_GC_GRACE_SECONDS/,
        );
      } finally {
        await second.close();
      }
    });
  });

  describe('the request log', () => {
    let testDatabase: TestDatabase;
    let api: LoggedApi;

    beforeAll(async () => {
      testDatabase = await dialectUnderTest.create({ ARTIFACTSTORE_TOKENS_FILE: await tokensFile(dir) });
      api = await startLoggedApi(testDatabase);
    });

    afterAll(async () => {
      await api.close();
      await testDatabase.dispose();
    });

    it('writes one JSON line per request with its id, actor, route, status, duration and bytes', async () => {
      const response = await api
        .http()
        .get('/v1/packages')
        .set('Authorization', `Bearer ${TOKENS.reader}`)
        .expect(200);
      const requestId = response.headers['x-request-id'] as string;
      expect(requestId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      const line = await logLineOf(api, requestId);
      expect(line).toMatchObject({
        level: 'info',
        request_id: requestId,
        actor: 'reader-bot',
        method: 'GET',
        route: '/v1/packages',
        status: 200,
      });
      expect(line.duration_ms).toEqual(expect.any(Number));
      expect(line.bytes_in).toBeGreaterThan(0);
      expect(line.bytes_out).toBeGreaterThan(0);
    });

    it('never writes a token, in a header or in a query string', async () => {
      const inQuery = await api
        .http()
        .get('/v1/packages')
        .query({ token: TOKENS.producer, limit: 5 })
        .set('Authorization', `Bearer ${TOKENS.producer}`);
      const inUrl = await api
        .http()
        .get(`/v1/packages?access_token=${TOKENS.reader}`)
        .set('Authorization', `Bearer ${TOKENS.reader}`);
      await api.http().get('/v1/packages').set('Authorization', `Bearer not-a-token-${TOKENS.reader}`);
      expect(await logLineOf(api, inQuery.headers['x-request-id'] as string)).toMatchObject({
        status: 400,
        actor: 'producer-bot',
      });
      expect(await logLineOf(api, inUrl.headers['x-request-id'] as string)).toMatchObject({ status: 400 });
      const text = api.text();
      expect(text).not.toContain(TOKENS.producer);
      expect(text).not.toContain(TOKENS.reader);
      expect(text.toLowerCase()).not.toContain('bearer');
    });

    it("sends Nest's own messages through the same JSON log", () => {
      expect(api.lines).toContainEqual(
        expect.objectContaining({ level: 'info', context: 'InstanceLoader', service: 'artifactstore' }),
      );
    });

    it('times out slow request headers', () => {
      // Beyond the default keep-alive of 65 s, which a new connection may spend idle (http-keep-alive.e2e-spec.ts).
      expect(api.app.getHttpServer().headersTimeout).toBe(65_000 + HEADERS_TIMEOUT_MS);
    });
  });

  describe('the bound on waiting clients (ARTIFACTSTORE_MAX_WAITING_CLIENTS=1)', () => {
    let testDatabase: TestDatabase;
    let api: LoggedApi;

    beforeAll(async () => {
      testDatabase = await dialectUnderTest.create({ ARTIFACTSTORE_MAX_WAITING_CLIENTS: '1' });
      api = await startLoggedApi(testDatabase);
    });

    afterAll(async () => {
      await api.close();
      await testDatabase.dispose();
    });

    it('answers 503 with Retry-After past the bound, and takes waiters again once one leaves', async () => {
      const first = api
        .http()
        .get('/v1/events')
        .query({ since: 0, wait: 30 })
        .then((response) => response);
      let longPolls = 0;
      for (let attempt = 0; attempt < 200 && longPolls !== 1; attempt++) {
        longPolls = await metricValue(api, /artifactstore_waiting_clients\{kind="long_poll"\} (\d+)/);
        if (longPolls !== 1) await sleep(25);
      }
      const refused = await api.http().get('/v1/events').query({ since: 0, wait: 30 });
      expectProblem(refused, 503, 'service_unavailable');
      expect(refused.headers['retry-after']).toBe('5');
      // A request that does not wait takes no place.
      await api.http().get('/v1/events').query({ since: 0 }).expect(200);

      await api.http().post('/v1/packages').send(NEW_PACKAGE).expect(201);
      expect(((await first).body as { events: unknown[] }).events).toHaveLength(1);
      await api.http().get('/v1/events').query({ since: 1, wait: 1 }).expect(200);
    });

    it('gives the place back when a long-poll client disconnects at once', async () => {
      const { port } = new URL(api.url);
      for (let i = 0; i < 5; i++) {
        // The request goes out whole, and the connection is cut right after it.
        await new Promise<void>((resolve, reject) => {
          const socket = connect(Number(port), '127.0.0.1', () => {
            socket.write(
              `GET /v1/events?since=${Number.MAX_SAFE_INTEGER - 1}&wait=30 HTTP/1.1\r\nHost: x\r\n\r\n`,
              () => {
                socket.destroy();
                resolve();
              },
            );
          });
          socket.once('error', reject);
        });
      }
      let longPolls = NaN;
      for (let attempt = 0; attempt < 100 && longPolls !== 0; attempt++) {
        await sleep(20);
        longPolls = await metricValue(api, /artifactstore_waiting_clients\{kind="long_poll"\} (\d+)/);
      }
      expect(longPolls).toBe(0);
      await api.http().get('/v1/events').query({ since: 1_000_000, wait: 1 }).expect(200);
    });
  });
});
