import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { adminJobResult } from '../support/admin-jobs.js';
import { gcBackendsUnderTest } from '../support/gc-backends.js';
import { ServerChild } from '../support/server-child.js';
import { dialectsUnderTest, type DialectUnderTest, type TestDatabase } from '../support/test-databases.js';
import { tokensJson } from '../support/tokens-file.js';

/** The source of the chain takes tokens; its mirror reads it with the reader's. */
const TOKENS = { reader: 'mirror-reader', admin: 'source-admin' } as const;
/** The token each URL wants (the admin's where tokens are on). */
const tokenOf = new Map<string, string>();

/** One store: its database (and data folder), and the server process on it. */
interface Site {
  readonly name: string;
  readonly database: TestDatabase;
  readonly server: ServerChild;
  /** The variables it was started with. */
  readonly env: Readonly<Record<string, string>>;
}

interface Published {
  readonly id: string;
  readonly contentAddress: string;
  readonly files: Record<string, Buffer>;
}

const sites: Site[] = [];
const dialects = dialectsUnderTest();
const byDialect = (name: 'sqlite' | 'postgres'): DialectUnderTest =>
  dialects.find((dialect) => dialect.dialect === name) ?? (dialects[0] as DialectUnderTest);
/** A storage backend for one store: S3 (a fresh prefix) when the test server runs, else fs. */
const backendOf = (label: string): Readonly<Record<string, string>> => {
  const [fs, s3] = gcBackendsUnderTest(label);
  return (s3 ?? fs)?.overrides ?? {};
};

async function startSite(
  name: string,
  dialect: DialectUnderTest,
  env: Record<string, string> = {},
): Promise<Site> {
  const database = await dialect.create({ ...env });
  const target = database.config.database;
  const server = await ServerChild.start({
    dataDir: database.config.dataDir,
    ...(target.dialect === 'postgres' ? { databaseUrl: target.url } : {}),
    env: { ARTIFACTSTORE_GC_GRACE_SECONDS: '0', ARTIFACTSTORE_GC_INTERVAL_SECONDS: '0', ...env },
  });
  const site = { name, database, server, env };
  sites.push(site);
  return site;
}

async function call(url: string, method: string, path: string, body?: Buffer | object): Promise<Response> {
  const headers: Record<string, string> = {};
  const token = tokenOf.get(url);
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const init: RequestInit = { method, headers };
  if (Buffer.isBuffer(body)) init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    headers['content-type'] = 'application/json';
  }
  return fetch(`${url}${path}`, init);
}

async function json<T>(url: string, method: string, path: string, body?: Buffer | object): Promise<T> {
  const response = await call(url, method, path, body);
  const text = await response.text();
  if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

async function publish(url: string, files: Record<string, Buffer>): Promise<Published> {
  const pkg = await json<{ id: string }>(url, 'POST', '/v1/packages', {
    name: 'mirrored',
    producer: 'ci',
    subject: `git:${randomBytes(4).toString('hex')}`,
    retention_class: 'standard',
  });
  for (const [path, bytes] of Object.entries(files)) {
    await json(url, 'PUT', `/v1/packages/${pkg.id}/files/${path}`, bytes);
  }
  const { content_address } = await json<{ content_address: string }>(
    url,
    'POST',
    `/v1/packages/${pkg.id}/finalize`,
  );
  return { id: pkg.id, contentAddress: content_address, files };
}

const headOf = async (url: string): Promise<number> =>
  (await json<{ head_sequence: number }>(url, 'GET', '/readyz')).head_sequence;

/** Waits until every server of `urls` is at `url`'s head. */
async function caughtUp(source: string, mirrors: readonly string[], timeoutMs = 120_000): Promise<number> {
  const head = await headOf(source);
  const deadline = Date.now() + timeoutMs;
  for (const mirror of mirrors) {
    for (;;) {
      const theirs = await headOf(mirror).catch(() => -1);
      if (theirs === head) break;
      if (Date.now() > deadline) throw new Error(`${mirror} is at ${theirs}, not ${head}`);
      await sleep(100);
    }
  }
  return head;
}

/** The head chain digest and the replayed state digest: equal on two stores that hold the same log. */
async function fingerprint(url: string): Promise<{ head: string | null; state: string; identical: boolean }> {
  const verify = await adminJobResult(url, 'verify', { token: tokenOf.get(url) });
  expect(verify.ok).toBe(true);
  const replay = await adminJobResult(url, 'replay', { token: tokenOf.get(url) });
  return { head: verify.head_chain_digest, state: replay.state_digest_after, identical: replay.identical };
}

async function expectSameFiles(url: string, published: Published): Promise<void> {
  for (const [path, bytes] of Object.entries(published.files)) {
    const response = await call(url, 'GET', `/v1/packages/${published.id}/files/${path}`);
    expect(response.status).toBe(200);
    expect(Buffer.from(await response.arrayBuffer()).equals(bytes)).toBe(true);
  }
}

afterAll(async () => {
  for (const site of sites.reverse()) {
    await site.server.stop();
    await site.database.dispose();
  }
});

describe('mirrors: a chain of three servers', () => {
  let a: Site;
  let b: Site;
  let c: Site;
  const published: Published[] = [];
  let tokensDir: string;

  afterAll(async () => {
    await rm(tokensDir, { recursive: true, force: true });
  });

  beforeAll(async () => {
    // The source on SQLite and fs, its mirror on PostgreSQL and fs, a mirror of the mirror on SQLite and, when the
    // test server runs, S3: a backend of its own choice, not the one its log names.
    tokensDir = await mkdtemp(join(tmpdir(), 'artifactstore-mirror-tokens-'));
    const tokensFile = join(tokensDir, 'tokens.json');
    await writeFile(tokensFile, tokensJson(TOKENS));
    a = await startSite('a', byDialect('sqlite'), { ARTIFACTSTORE_TOKENS_FILE: tokensFile });
    tokenOf.set(a.server.url, TOKENS.admin);
    published.push(
      await publish(a.server.url, { 'one.txt': Buffer.from('one'), 'bin/x': randomBytes(3000) }),
    );
    // The mirror signs with the source's key and origin, so its checkpoints are the source's, byte for byte.
    const keyDir = a.database.config.dataDir;
    b = await startSite('b', byDialect('postgres'), {
      ARTIFACTSTORE_FOLLOW_URL: a.server.url,
      ARTIFACTSTORE_FOLLOW_TOKEN: TOKENS.reader,
      ARTIFACTSTORE_LOG_KEY_FILE: join(keyDir, 'log-key.pem'),
      ARTIFACTSTORE_LOG_ORIGIN: (await readFile(join(keyDir, 'log-origin'), 'utf8')).trim(),
    });
    c = await startSite('c', byDialect('sqlite'), {
      ...backendOf('mirror-c'),
      ARTIFACTSTORE_FOLLOW_URL: b.server.url,
    });
  }, 180_000);

  it('copies the log byte for byte: the same head chain digest and the same replayed state', async () => {
    published.push(
      await publish(a.server.url, { 'two.txt': Buffer.from('two'), 'one.txt': Buffer.from('one') }),
    );
    await json(a.server.url, 'PUT', '/v1/tags/mirrored/stable', { package: published[1]?.id });
    await caughtUp(a.server.url, [b.server.url, c.server.url]);
    const [fa, fb, fc] = [
      await fingerprint(a.server.url),
      await fingerprint(b.server.url),
      await fingerprint(c.server.url),
    ];
    expect(fb).toEqual(fa);
    expect(fc).toEqual(fa);
    expect(fa.identical).toBe(true);
    for (const pkg of published) {
      await expectSameFiles(b.server.url, pkg);
      await expectSameFiles(c.server.url, pkg);
    }
    const bundles = await Promise.all(
      [a, b, c].map(async (site) =>
        Buffer.from(await (await call(site.server.url, 'GET', '/v1/log/tile/entries/000.p/3')).arrayBuffer()),
      ),
    );
    expect(bundles[1]).toEqual(bundles[0]);
    expect(bundles[2]).toEqual(bundles[0]);
    const checkpoint = async (site: Site): Promise<string> =>
      (await call(site.server.url, 'GET', '/v1/log/checkpoint')).text();
    expect(await checkpoint(b)).toBe(await checkpoint(a));
  });

  it('refuses writes with 409 read_only_mirror, and reports its progress in /readyz and /metrics', async () => {
    for (const [method, path, body] of [
      ['POST', '/v1/packages', { name: 'x', producer: 'p', subject: 's', retention_class: 'standard' }],
      ['DELETE', `/v1/packages/${published[0]?.id}`, undefined],
      ['PUT', '/v1/tags/mirrored/other', { package: published[0]?.id }],
      ['POST', '/v1/admin/gc', {}],
    ] as const) {
      const response = await call(b.server.url, method, path, body);
      expect([response.status, ((await response.json()) as { code: string }).code]).toEqual([
        409,
        'read_only_mirror',
      ]);
    }
    const ready = await json<{ mirror: { state: string; lag_events: number; source: string } }>(
      b.server.url,
      'GET',
      '/readyz',
    );
    expect(ready.mirror).toMatchObject({ state: 'following', lag_events: 0, source: a.server.url });
    const metrics = await (await call(b.server.url, 'GET', '/metrics')).text();
    expect(metrics).toMatch(/^artifactstore_mirror_lag_events 0$/m);
    expect(metrics).toMatch(/^artifactstore_mirror_diverged 0$/m);
    expect(metrics).toMatch(/^artifactstore_mirror_events_copied_total [1-9]/m);
  });

  it('follows removals: deletion, expiry and collected blobs', async () => {
    const doomed = await publish(a.server.url, { 'gone.bin': randomBytes(5000) });
    await json(a.server.url, 'DELETE', `/v1/packages/${doomed.id}`, { reason: 'test' });
    const report = await json<{ collected: { blobs: number } }>(a.server.url, 'POST', '/v1/admin/gc', {});
    expect(report.collected.blobs).toBeGreaterThanOrEqual(1);
    await caughtUp(a.server.url, [b.server.url, c.server.url]);
    for (const site of [b, c]) {
      expect((await call(site.server.url, 'GET', `/v1/packages/${doomed.id}/files/gone.bin`)).status).toBe(
        410,
      );
    }
    expect((await fingerprint(c.server.url)).state).toBe((await fingerprint(a.server.url)).state);
  });

  it('resumes with nothing lost or doubled when the source dies mid-transfer and the mirror dies mid-blob', async () => {
    const big = await publish(a.server.url, { 'big.bin': randomBytes(24 * 1024 * 1024) });
    await sleep(150);
    await a.server.kill('SIGKILL');
    await sleep(500);
    await a.server.restart();
    const bigger = await publish(a.server.url, { 'bigger.bin': randomBytes(24 * 1024 * 1024) });
    await sleep(150);
    await b.server.kill('SIGKILL');
    await b.server.restart();
    await caughtUp(a.server.url, [b.server.url, c.server.url], 180_000);
    const fa = await fingerprint(a.server.url);
    expect(await fingerprint(b.server.url)).toEqual(fa);
    expect(await fingerprint(c.server.url)).toEqual(fa);
    await expectSameFiles(c.server.url, big);
    await expectSameFiles(b.server.url, bigger);
    expect(b.server.unexpectedExits).toEqual([]);
  }, 300_000); // two 24 MiB copies through three stores, with kills and restarts, on a busy CI machine

  it('becomes a primary that continues the same log when restarted without a source, and collects its own blobs', async () => {
    const before = await headOf(c.server.url);
    await c.server.stop();
    const target = c.database.config.database;
    const { ARTIFACTSTORE_FOLLOW_URL: _source, ...env } = c.env;
    const promoted = await ServerChild.start({
      dataDir: c.database.config.dataDir,
      ...(target.dialect === 'postgres' ? { databaseUrl: target.url } : {}),
      env: { ...env, ARTIFACTSTORE_GC_GRACE_SECONDS: '0', ARTIFACTSTORE_GC_INTERVAL_SECONDS: '0' },
    });
    try {
      const pkg = await publish(promoted.url, { 'new.txt': Buffer.from('after promotion') });
      expect(await headOf(promoted.url)).toBeGreaterThan(before);
      await expectSameFiles(promoted.url, pkg);
      // A copied package goes: its own blob is collected from this store's backend (S3 where its log says fs), the
      // blob it shares with a live package stays, and a second run finds nothing left to do.
      const [first, second] = published;
      if (first === undefined || second === undefined) throw new Error('nothing was published');
      await json(promoted.url, 'DELETE', `/v1/packages/${first.id}`, { reason: 'test' });
      const collected = await json<{ collected: { blobs: number } }>(
        promoted.url,
        'POST',
        '/v1/admin/gc',
        {},
      );
      expect(collected.collected.blobs).toBe(1);
      const again = await json<{ collected: { blobs: number } }>(promoted.url, 'POST', '/v1/admin/gc', {});
      expect(again.collected.blobs).toBe(0);
      await expectSameFiles(promoted.url, second);
      const verify = await adminJobResult(promoted.url, 'verify', { token: tokenOf.get(promoted.url) });
      expect(verify.ok).toBe(true);
      const replay = await adminJobResult(promoted.url, 'replay', { token: tokenOf.get(promoted.url) });
      expect(replay.identical).toBe(true);
    } finally {
      await promoted.stop();
    }
  });
});

describe('mirrors: a source that does not extend the mirror', () => {
  it('stops the mirror: /readyz 503 mirror_diverged, a metric, and its own log untouched', async () => {
    const source = await startSite('source', byDialect('sqlite'));
    await publish(source.server.url, { 'a.txt': Buffer.from('a') });
    const mirror = await startSite('mirror', byDialect('postgres'), {
      ARTIFACTSTORE_FOLLOW_URL: source.server.url,
    });
    const head = await caughtUp(source.server.url, [mirror.server.url]);
    const before = await fingerprint(mirror.server.url);

    // Another store, with a log of its own, takes the source's place.
    const impostor = await startSite('impostor', byDialect('sqlite'));
    await publish(impostor.server.url, { 'b.txt': Buffer.from('b') });
    await publish(impostor.server.url, { 'c.txt': Buffer.from('c') });
    await mirror.server.stop();
    const target = mirror.database.config.database;
    const repointed = await ServerChild.start({
      dataDir: mirror.database.config.dataDir,
      ...(target.dialect === 'postgres' ? { databaseUrl: target.url } : {}),
      env: { ARTIFACTSTORE_FOLLOW_URL: impostor.server.url },
    });
    try {
      let response: Response | undefined;
      for (let i = 0; i < 100; i++) {
        response = await call(repointed.url, 'GET', '/readyz');
        if (response.status === 503) break;
        await response.arrayBuffer();
        await sleep(100);
      }
      expect(response?.status).toBe(503);
      const problem = (await response?.json()) as { code: string; mirror: { state: string } };
      expect(problem).toMatchObject({ code: 'mirror_diverged', mirror: { state: 'diverged' } });
      const metrics = await (await call(repointed.url, 'GET', '/metrics')).text();
      expect(metrics).toMatch(/^artifactstore_mirror_diverged 1$/m);
      expect(repointed.errorLines().join('\n')).toMatch(/stopped: /);
      const after = await adminJobResult(repointed.url, 'verify', { token: tokenOf.get(repointed.url) });
      expect(after).toMatchObject({ head_sequence: head, head_chain_digest: before.head });
    } finally {
      await repointed.stop();
    }
  }, 180_000); // four server starts and a wait for the mirror to stop
});
