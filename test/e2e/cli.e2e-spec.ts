import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApi, type ApiHarness } from '../support/api-harness.js';
import { digestTree, finished, runCli, runCliOnTerminal, startCli } from '../support/cli-runner.js';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';
import { createScratchSqlite } from '../support/scratch-database.js';

const ADDRESS = /^blake3:[0-9a-f]{64}$/;
const PACKAGE = [
  '--name',
  'webapp',
  '--producer',
  'ci',
  '--subject',
  'git:3f2c1a9',
  '--retention',
  'standard',
];

/** A tree with nested paths, an empty file, Unicode names and one file of a few MiB. */
async function sampleTree(root: string): Promise<string> {
  await mkdir(join(root, 'a', 'b', 'c'), { recursive: true });
  await mkdir(join(root, '日本語'), { recursive: true });
  await writeFile(join(root, 'a', 'b', 'c', 'deep.txt'), 'deep\n');
  await writeFile(join(root, 'empty.bin'), '');
  await writeFile(join(root, 'über ☃.json'), '{"snow":"☃"}');
  await writeFile(join(root, '日本語', 'データ 😀.bin'), randomBytes(1000));
  await writeFile(join(root, 'big.dat'), randomBytes(3 * 1024 * 1024 + 7));
  return root;
}

/** What a `--local` command needs to find the test's database and data folder (the server's own variables). */
function localEnvOf(database: TestDatabase): Record<string, string> {
  const target = database.config.database;
  return {
    ARTIFACTSTORE_DATA_DIR: database.config.dataDir,
    ...(target.dialect === 'postgres' ? { ARTIFACTSTORE_DATABASE_URL: target.url } : {}),
  };
}

/** Progress as a terminal shows it: a bar redrawn with `\r`, with files, bytes, rate and ETA. */
const PROGRESS_BAR =
  /\r\[[#-]{24}\] \d+\/\d+ files {2}[\d.]+ (?:B|KiB|MiB)\/[\d.]+ (?:B|KiB|MiB) {2}[\d.]+ (?:B|KiB|MiB|GiB)\/s {2}ETA (?:\d+s|--)/;

describe.each(dialectsUnderTest())('artifactstore CLI round trip on $dialect', (dialectUnderTest) => {
  let database: TestDatabase;
  let api: ApiHarness;
  let work: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    database = await dialectUnderTest.create();
    api = await startApi(database);
    work = await mkdtemp(join(tmpdir(), 'artifactstore-cli-'));
    env = { ARTIFACTSTORE_URL: api.url };
  });

  afterAll(async () => {
    await api.close();
    await database.dispose();
    await rm(work, { recursive: true, force: true });
  });

  it('pushes a tree through the server and pulls it back byte for byte; verify passes, then names each difference with exit 4', async () => {
    const source = await sampleTree(join(work, 'round-trip'));
    const pushed = await runCli(['push', source, ...PACKAGE, '--meta', 'build=7', '--concurrency', '3'], env);
    expect(pushed.stderr).not.toMatch(/artifactstore: [a-z_]+: /);
    expect(pushed.code).toBe(0);
    const address = pushed.stdout.trim();
    expect(address).toMatch(ADDRESS);
    const packageId = /package ([0-9a-f-]{36}) created/.exec(pushed.stderr)?.[1] ?? '';
    // No progress bar on a pipe: one plain line per file, no carriage return, no rate or ETA.
    expect(pushed.stderr).toContain('uploaded big.dat (3.0 MiB)');
    expect(pushed.stderr).not.toContain('\r');
    expect(pushed.stderr).not.toMatch(/ETA|\/s\b|files {2}/);

    const files = await api.http().get(`/v1/packages/${packageId}/files`).expect(200);
    const types = Object.fromEntries(
      (files.body as { items: { relative_path: string; media_type: string }[] }).items.map((file) => [
        file.relative_path,
        file.media_type,
      ]),
    );
    expect(types).toEqual({
      'a/b/c/deep.txt': 'text/plain',
      'big.dat': 'application/octet-stream',
      'empty.bin': 'application/octet-stream',
      'über ☃.json': 'application/json',
      '日本語/データ 😀.bin': 'application/octet-stream',
    });
    const shown = await runCli(['show', address, '--json'], env);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      id: packageId,
      metadata: { build: '7' },
      file_count: 5,
    });

    const target = join(work, 'round-trip-pulled');
    const pulled = await runCli(['pull', address, target], env);
    expect(pulled.code).toBe(0);
    expect(await digestTree(target)).toEqual(await digestTree(source));
    expect(pulled.stderr).not.toContain('\r');
    expect(pulled.stderr).not.toMatch(/ETA|\/s\b|files {2}/);
    expect(pulled.stderr).toContain('downloaded big.dat (3.0 MiB)');

    expect((await runCli(['verify', target, address], env)).code).toBe(0);
    expect((await runCli(['verify', target, packageId], env)).code).toBe(0);

    await writeFile(join(target, 'a', 'b', 'c', 'deep.txt'), 'DEEP\n');
    await rm(join(target, 'empty.bin'));
    await writeFile(join(target, 'stray.txt'), 'x');
    const failed = await runCli(['verify', target, address], env);
    expect(failed.code).toBe(4);
    expect(failed.stdout.split('\n').filter(Boolean)).toEqual([
      'changed  a/b/c/deep.txt (SHA-256, BLAKE3)',
      'missing  empty.bin',
      'extra    stray.txt',
    ]);
    expect(failed.stderr).toMatch(/^artifactstore: verify_failed: 3 differences/m);

    // Offline: the saved manifest, checked against the address, with no server reachable.
    const saved = join(work, 'round-trip.cbor');
    expect((await runCli(['manifest', address, '--out', saved], env)).code).toBe(0);
    const offline = await runCli(['verify', source, address, '--manifest', saved], {
      ARTIFACTSTORE_URL: 'http://127.0.0.1:1',
    });
    expect(offline.code).toBe(0);
    const json = await runCli(['manifest', packageId, '--json'], env);
    expect(JSON.parse(json.stdout)).toMatchObject({ schema: 'artifactstore.manifest.v1' });
  });

  it('pushes, pulls and verifies with --local on the same database, the client variables naming a dead server', async () => {
    const local = {
      ...localEnvOf(database),
      ARTIFACTSTORE_URL: 'http://127.0.0.1:1',
      ARTIFACTSTORE_TOKEN: 'unused',
    };
    const source = await sampleTree(join(work, 'local-tree'));
    const pushed = await runCli(['--local', 'push', source, ...PACKAGE], local);
    expect(pushed.stderr).not.toMatch(/artifactstore: [a-z_]+: /);
    expect(pushed.code).toBe(0);
    const address = pushed.stdout.trim();
    expect(address).toMatch(ADDRESS);

    const target = join(work, 'local-pulled');
    const pulled = await runCli(['--local', 'pull', address, target, '--json'], local);
    expect(pulled.code).toBe(0);
    expect(JSON.parse(pulled.stdout)).toMatchObject({ content_address: address, files: 5 });
    expect(await digestTree(target)).toEqual(await digestTree(source));
    expect((await runCli(['--local', 'verify', target, address], local)).code).toBe(0);

    const missing = await runCli(['--local', 'show', randomUUID()], local);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^artifactstore: package_not_found: /m);

    // The same database and blobs: the server serves what --local wrote, byte for byte.
    const served = join(work, 'local-served');
    expect((await runCli(['pull', address, served], env)).code).toBe(0);
    expect(await digestTree(served)).toEqual(await digestTree(source));
  });
});

describe('artifactstore CLI against a server (SQLite): failures, resume, progress, the event log', () => {
  let database: TestDatabase;
  let api: ApiHarness;
  let work: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    database = await createScratchSqlite();
    api = await startApi(database);
    work = await mkdtemp(join(tmpdir(), 'artifactstore-cli-'));
    env = { ARTIFACTSTORE_URL: api.url };
  });

  afterAll(async () => {
    await api.close();
    await database.dispose();
    await rm(work, { recursive: true, force: true });
  });

  async function push(root: string): Promise<{ address: string; packageId: string }> {
    const result = await runCli(['push', root, ...PACKAGE], env);
    expect(result.stderr).not.toMatch(/artifactstore: [a-z_]+: /);
    expect(result.code).toBe(0);
    const address = result.stdout.trim();
    expect(address).toMatch(ADDRESS);
    const packageId = /package ([0-9a-f-]{36}) created/.exec(result.stderr)?.[1] ?? '';
    return { address, packageId };
  }

  it.each([
    // Damage found before the first byte went out: the server answers 500 integrity_error.
    ['1 MiB', 1024 * 1024, 'integrity_error'],
    // Damage found after 4 MiB went out: the server cuts the response short.
    ['9 MiB', 9 * 1024 * 1024, 'download_incomplete'],
  ])(
    'refuses a %s download whose bytes are corrupted on the server: exit 4, and no file left in place',
    async (label, size, code) => {
      const source = join(work, `corrupt-source-${label}`);
      await mkdir(source);
      const bytes = randomBytes(size);
      await writeFile(join(source, 'model.bin'), bytes);
      const { address } = await push(source);
      const listing = await runCli(['ls', '--name', 'webapp', '--json'], env);
      expect((JSON.parse(listing.stdout) as { content_address: string }[])[0]?.content_address).toBe(address);

      const hex = await manifestBlake3(address);
      const blob = join(database.config.dataDir, 'blobs', hex.slice(0, 2), hex.slice(2, 4), hex);
      const stored = await readFile(blob);
      stored[stored.length >> 1] = (stored[stored.length >> 1] ?? 0) ^ 0xff;
      await writeFile(blob, stored);

      const target = join(work, `corrupt-pulled-${label}`);
      const pulled = await runCli(['pull', address, target], env);
      expect(pulled.code).toBe(4);
      expect(pulled.stderr).toMatch(new RegExp(`^artifactstore: ${code}: `, 'm'));
      expect(await readdir(target)).toEqual([]);
    },
  );

  async function manifestBlake3(address: string): Promise<string> {
    const response = await api.http().get(`/v1/manifests/${address}?format=json`).expect(200);
    return (response.body as { files: { blake3: string }[] }).files[0]?.blake3 ?? '';
  }

  it('resumes a push killed half-way, skipping the files already uploaded', async () => {
    const source = join(work, 'resume-source');
    await mkdir(source);
    for (let index = 0; index < 60; index++) {
      await writeFile(join(source, `part-${String(index).padStart(3, '0')}.bin`), randomBytes(64 * 1024));
    }
    const child = startCli(['push', source, ...PACKAGE, '--concurrency', '1'], env);
    let stderr = '';
    let uploadedLines = 0;
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      uploadedLines = stderr.split('\n').filter((line) => line.startsWith('uploaded ')).length;
      if (uploadedLines >= 5) child.kill('SIGKILL');
    });
    const killed = await finished(child);
    expect(killed.code).toBeNull();
    const packageId = /package ([0-9a-f-]{36}) created/.exec(stderr)?.[1] ?? '';
    const before = (await api.http().get(`/v1/packages/${packageId}`).expect(200)).body as {
      status: string;
      file_count: number;
    };
    expect(before.status).toBe('created');
    expect(before.file_count).toBeGreaterThanOrEqual(5);
    expect(before.file_count).toBeLessThan(60);

    const resumed = await runCli(['push', source, '--resume', packageId, '--json'], env);
    expect(resumed.code).toBe(0);
    const result = JSON.parse(resumed.stdout) as {
      content_address: string;
      skipped: number;
      uploaded: number;
    };
    // With --concurrency 1 at most one upload was in flight at the kill: its body may have reached the server,
    // which then committed it after `before` was read.
    expect(result.skipped).toBeGreaterThanOrEqual(before.file_count);
    expect(result.skipped).toBeLessThanOrEqual(before.file_count + 1);
    expect(result.skipped + result.uploaded).toBe(60);

    const target = join(work, 'resume-pulled');
    expect((await runCli(['pull', result.content_address, target], env)).code).toBe(0);
    expect(await digestTree(target)).toEqual(await digestTree(source));

    // The package is finalized now: resuming it again is a conflict.
    const again = await runCli(['push', source, '--resume', packageId], env);
    expect(again.code).toBe(3);
    expect(again.stderr).toMatch(/^artifactstore: illegal_package_state: /m);
  });

  it('exits 2 for not found, 3 for a conflict, 1 for invalid input, 5 for an unreachable server', async () => {
    const missing = await runCli(['show', randomUUID()], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^artifactstore: package_not_found: /m);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);

    const created = (
      await api
        .http()
        .post('/v1/packages')
        .send({ name: 'open', producer: 'ci', subject: 's', retention_class: 'standard' })
        .expect(201)
    ).body as { id: string };
    const open = await runCli(['pull', created.id, join(work, 'never')], env);
    expect(open.code).toBe(3);
    expect(open.stderr).toMatch(/^artifactstore: illegal_package_state: /m);

    const source = join(work, 'tiny');
    await mkdir(source);
    await writeFile(join(source, 'x.txt'), 'x');
    const retention = await runCli(['push', source, ...PACKAGE.slice(0, -1), 'forever-and-ever'], env);
    expect(retention.code).toBe(1);
    expect(retention.stderr).toMatch(/^artifactstore: unknown_retention_class: /m);

    const usage = await runCli(['push', source, '--name', 'x'], env);
    expect(usage.code).toBe(1);

    const port = await closedPort();
    const unreachable = await runCli(['ls', '--url', `http://127.0.0.1:${port}`], env);
    expect(unreachable.code).toBe(5);
    expect(unreachable.stderr).toMatch(/^artifactstore: server_unreachable: /m);
  });

  it('draws a progress bar (files, bytes, rate, ETA) on a terminal instead of one line per file', async () => {
    const source = await sampleTree(join(work, 'terminal'));
    const pushed = await runCliOnTerminal(['push', source, ...PACKAGE], env);
    expect(pushed.code).toBe(0);
    const screen = pushed.stdout;
    expect(screen).toMatch(PROGRESS_BAR);
    // The last drawing is complete (the terminal reports no width, as under CI): all files, all bytes, ETA 0s.
    expect(screen).toMatch(
      /\r\[#{24}\] 5\/5 files {2}3\.0 MiB\/3\.0 MiB {2}[\d.]+ (?:B|KiB|MiB|GiB)\/s {2}ETA 0s/,
    );
    expect(screen).not.toMatch(/^uploaded /m);
    expect(screen.trim().split('\r\n').at(-1)).toMatch(ADDRESS);

    const pulled = await runCliOnTerminal(
      ['pull', screen.trim().split('\r\n').at(-1) ?? '', join(work, 'terminal-pulled')],
      env,
    );
    expect(pulled.code).toBe(0);
    expect(pulled.stdout).toMatch(/\r\[#{24}\] 5\/5 files {2}3\.0 MiB\/3\.0 MiB/);
    expect(pulled.stdout).not.toMatch(/^downloaded /m);
  });

  it('tails the event log as JSON lines and checks the chain', async () => {
    const tail = await runCli(['tail', '--json', '--since', '0'], env);
    expect(tail.code).toBe(0);
    const events = tail.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { sequence: number; event_type: string });
    expect(events[0]).toMatchObject({ sequence: 1, event_type: 'v1.package.created' });
    expect(events.map((event) => event.sequence)).toEqual(events.map((_, index) => index + 1));

    const check = await runCli(['check', '--json'], env);
    expect(check.code).toBe(0);
    expect(JSON.parse(check.stdout)).toMatchObject({ ok: true, events_checked: events.length });
    const replay = await runCli(['replay', '--json'], env);
    expect(JSON.parse(replay.stdout)).toMatchObject({ identical: true, highest_sequence: events.length });
  });
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === 'object' && address !== null ? address.port : 1;
}
