import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256 } from '@artifactstore/codec';
import { startApi, type ApiHarness } from '../support/api-harness.js';
import { digestTree, runCli, type CliRun } from '../support/cli-runner.js';
import { createPackage } from '../support/http-helpers.js';
import { createScratchSqlite } from '../support/scratch-database.js';
import type { TestDatabase } from '../support/test-databases.js';

const TOKENS = { reader: 'cli-reader-secret', producer: 'cli-producer-secret', admin: 'cli-admin-secret' };
const ROLES = ['reader', 'producer', 'admin'] as const;
const PACKAGE = ['--name', 'webapp', '--producer', 'ci', '--subject', 'git:1', '--retention', 'standard'];

/** Exit 5 and exactly one error line, `artifactstore: <code>: <detail>`, on stderr. */
function expectRefused(run: CliRun, code: 'unauthorized' | 'forbidden'): void {
  expect(run.code).toBe(5);
  const errors = run.stderr.split('\n').filter((line) => /^artifactstore: [a-z_]+: /.test(line));
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatch(new RegExp(`^artifactstore: ${code}: \\S`));
  expect(run.stdout).toBe('');
}

describe('artifactstore CLI against a server that requires tokens (SQLite)', () => {
  let database: TestDatabase;
  let api: ApiHarness;
  let work: string;
  let source: string;
  let url: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'artifactstore-cli-auth-'));
    const tokensFile = join(work, 'tokens.json');
    await writeFile(
      tokensFile,
      JSON.stringify(
        ROLES.map((role) => ({
          name: `${role}-bot`,
          token_sha256: sha256(TOKENS[role]).toString('hex'),
          role,
        })),
      ),
    );
    database = await createScratchSqlite({ ARTIFACTSTORE_TOKENS_FILE: tokensFile });
    api = await startApi(database);
    url = api.url;
    source = join(work, 'tree');
    await mkdir(join(source, 'nested'), { recursive: true });
    await writeFile(join(source, 'nested', 'ü.txt'), 'ü\n');
    await writeFile(join(source, 'model.bin'), randomBytes(256 * 1024));
  });

  afterAll(async () => {
    await api.close();
    await database.dispose();
    await rm(work, { recursive: true, force: true });
  });

  it('exits 5 naming unauthorized without a token and with a wrong one, from the flag or the environment', async () => {
    expectRefused(await runCli(['ls'], { ARTIFACTSTORE_URL: url }), 'unauthorized');
    expectRefused(await runCli(['push', source, ...PACKAGE], { ARTIFACTSTORE_URL: url }), 'unauthorized');
    expectRefused(await runCli(['ls', '--url', url, '--token', 'not-a-token']), 'unauthorized');
    expectRefused(
      await runCli(['tail'], { ARTIFACTSTORE_URL: url, ARTIFACTSTORE_TOKEN: `${TOKENS.admin}x` }),
      'unauthorized',
    );
  });

  it('exits 5 naming forbidden when a reader creates, uploads into or replays, and when a producer replays', async () => {
    const reader = { ARTIFACTSTORE_URL: url, ARTIFACTSTORE_TOKEN: TOKENS.reader };
    expectRefused(await runCli(['push', source, ...PACKAGE], reader), 'forbidden');
    // The refusal of an upload, answered while the client streams its body.
    const open = await createPackage(api, {}, TOKENS.producer);
    const resumed = await runCli(['push', source, '--resume', open.id], reader);
    expectRefused(resumed, 'forbidden');
    const files = await api
      .http()
      .get(`/v1/packages/${open.id}/files`)
      .set('Authorization', `Bearer ${TOKENS.reader}`)
      .expect(200);
    expect((files.body as { items: unknown[] }).items).toEqual([]);

    expectRefused(await runCli(['replay'], reader), 'forbidden');
    expectRefused(
      await runCli(['check', '--token', TOKENS.producer], { ARTIFACTSTORE_URL: url }),
      'forbidden',
    );
  });

  it('pushes with a producer token; a reader pulls and verifies it; the events name the producer token', async () => {
    const pushed = await runCli(['push', source, ...PACKAGE], {
      ARTIFACTSTORE_URL: url,
      ARTIFACTSTORE_TOKEN: TOKENS.producer,
    });
    expect(pushed.stderr).not.toMatch(/^artifactstore: [a-z_]+: /m);
    expect(pushed.code).toBe(0);
    const address = pushed.stdout.trim();
    expect(address).toMatch(/^blake3:[0-9a-f]{64}$/);

    const reader = { ARTIFACTSTORE_URL: url, ARTIFACTSTORE_TOKEN: TOKENS.reader };
    const target = join(work, 'pulled');
    expect((await runCli(['pull', address, target], reader)).code).toBe(0);
    expect(await digestTree(target)).toEqual(await digestTree(source));
    expect((await runCli(['verify', target, address], reader)).code).toBe(0);

    const tail = await runCli(['tail', '--json'], reader);
    expect(tail.code).toBe(0);
    const finalized = tail.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { event_type: string; actor: string })
      .filter((event) => event.event_type === 'v1.package.finalized');
    expect(finalized.map((event) => event.actor)).toEqual(['producer-bot']);

    expect((await runCli(['check', '--json'], { ...reader, ARTIFACTSTORE_TOKEN: TOKENS.admin })).code).toBe(
      0,
    );
  });
});
