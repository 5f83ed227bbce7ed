import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdir } from 'node:fs/promises';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startApi } from '../support/api-harness.js';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';

const SERVER = 'dist/apps/server/src/main.js';
const GRACE_MS = 4000;
const HALF = 64 * 1024;

/** The built server on `testDatabase`, in local mode, with a short shutdown grace; resolves once it listens. */
async function spawnServer(
  testDatabase: TestDatabase,
): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const target = testDatabase.config.database;
  const child = spawn(process.execPath, [SERVER], {
    env: {
      PATH: process.env.PATH,
      ARTIFACTSTORE_DATA_DIR: testDatabase.config.dataDir,
      ...(target.dialect === 'postgres' ? { ARTIFACTSTORE_DATABASE_URL: target.url } : {}),
      ARTIFACTSTORE_PORT: '0',
      ARTIFACTSTORE_SHUTDOWN_GRACE_MS: String(GRACE_MS),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = /listening on (http:\/\/[^\s"]+)/.exec(output);
      if (match?.[1]) resolve(match[1]);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      reject(new Error(`server exited with ${code}: ${output}`));
    });
  });
  return { child, url, output: () => output };
}

/** A PUT of 2 × HALF bytes whose first half is sent now; `finish()` sends the rest. */
function slowUpload(
  url: string,
  packageId: string,
  path: string,
): { request: ClientRequest; response: Promise<IncomingMessage>; finish(): void } {
  const request = httpRequest(`${url}/v1/packages/${packageId}/files/${path}`, {
    method: 'PUT',
    headers: { 'Content-Length': String(2 * HALF), 'Content-Type': 'application/octet-stream' },
  });
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    request.once('response', resolve);
    request.once('error', reject);
  });
  request.write(Buffer.alloc(HALF, 1));
  return {
    request,
    response,
    finish: () => {
      request.end(Buffer.alloc(HALF, 2));
    },
  };
}

async function jsonOf(response: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

describe.each(dialectsUnderTest())('the built server shutting down on $dialect', (dialectUnderTest) => {
  let testDatabase: TestDatabase;

  beforeAll(async () => {
    testDatabase = await dialectUnderTest.create();
  });

  afterAll(async () => {
    await testDatabase.dispose();
  });

  it('finishes uploads within the grace period, cuts the rest leaving nothing, answers long-polls, exits 0', async () => {
    const { child, url } = await spawnServer(testDatabase);
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    const created = await fetch(`${url}/v1/packages`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'app', producer: 'ci', subject: 'git:1', retention_class: 'standard' }),
    });
    const packageId = ((await created.json()) as { id: string }).id;
    const head = ((await (await fetch(`${url}/readyz`)).json()) as { head_sequence: number }).head_sequence;

    const completing = slowUpload(url, packageId, 'completes.bin');
    const outlasting = slowUpload(url, packageId, 'outlasts.bin');
    const outlastingFailed = outlasting.response.then(
      () => 'answered',
      () => 'cut',
    );
    const longPoll = fetch(`${url}/v1/events?since=${head}&wait=60`);
    // Both uploads are being written (their temporary files exist) before the signal.
    const tmp = join(testDatabase.config.dataDir, 'blobs', 'tmp');
    for (let attempt = 0; attempt < 400 && (await readdir(tmp)).length < 2; attempt++) await sleep(25);
    expect(await readdir(tmp)).toHaveLength(2);
    await sleep(200); // the long-poll reaches its wait (it is answered either way)

    const signalledAt = Date.now();
    child.kill('SIGTERM');

    const polled = await longPoll;
    expect(polled.status).toBe(200);
    expect(await polled.json()).toEqual({ events: [], next_since: head });
    expect(Date.now() - signalledAt).toBeLessThan(GRACE_MS);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();

    completing.finish();
    const response = await completing.response;
    expect(response.statusCode).toBe(201);
    expect(await jsonOf(response)).toMatchObject({ relative_path: 'completes.bin', size: 2 * HALF });

    expect(await outlastingFailed).toBe('cut');
    const [code, signal] = await exited;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalledAt).toBeGreaterThanOrEqual(GRACE_MS);

    // Nothing of the cut upload: no file, no event, no temporary file.
    expect(await readdir(tmp)).toEqual([]);
    const api = await startApi(testDatabase);
    try {
      const files = await api.http().get(`/v1/packages/${packageId}/files`).expect(200);
      expect(
        (files.body as { items: { relative_path: string }[] }).items.map((file) => file.relative_path),
      ).toEqual(['completes.bin']);
      const events = await api.http().get('/v1/events').query({ since: head }).expect(200);
      expect(
        (events.body as { events: { event_type: string }[] }).events.map((event) => event.event_type),
      ).toEqual(['v1.file.ingested']);
    } finally {
      await api.close();
    }
  });

  it('exits at once with 128 + its number on a second signal during the shutdown, without a second shutdown', async () => {
    const { child, url, output } = await spawnServer(testDatabase);
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    const created = await fetch(`${url}/v1/packages`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'app', producer: 'ci', subject: 'git:2', retention_class: 'standard' }),
    });
    const packageId = ((await created.json()) as { id: string }).id;
    // An upload that never finishes keeps the shutdown in its grace period.
    const outlasting = slowUpload(url, packageId, 'outlasts.bin');
    const outlastingFailed = outlasting.response.then(
      () => 'answered',
      () => 'cut',
    );
    const tmp = join(testDatabase.config.dataDir, 'blobs', 'tmp');
    for (let attempt = 0; attempt < 400 && (await readdir(tmp)).length < 1; attempt++) await sleep(25);

    const signalledAt = Date.now();
    child.kill('SIGTERM');
    for (let attempt = 0; attempt < 200 && !output().includes('draining'); attempt++) await sleep(10);
    expect(output()).toContain('"msg":"SIGTERM: shutting down"');
    child.kill('SIGINT');
    const [code, signal] = await exited;
    expect({ code, signal }).toEqual({ code: 130, signal: null });
    expect(Date.now() - signalledAt).toBeLessThan(GRACE_MS);
    expect(output()).toContain('"msg":"SIGINT during shutdown: exiting at once with status 130"');
    expect(output()).not.toContain('SIGINT: shutting down');
    expect(await outlastingFailed).toBe('cut');
  });
});
