import { randomBytes } from 'node:crypto';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Clock } from '@artifactstore/config';
import { startApi, type ApiHarness } from '../support/api-harness.js';
import { runCli, type CliRun } from '../support/cli-runner.js';
import { createPackage } from '../support/http-helpers.js';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';
import { tokensJson } from '../support/tokens-file.js';

const TOKENS = { reader: 'life-reader-secret', producer: 'life-producer-secret', admin: 'life-admin-secret' };
const DAY_MS = 24 * 60 * 60 * 1000;

interface PackageJson {
  id: string;
  status: string;
  retention_class: string;
  expires_at: string | null;
  held: boolean;
  hold_reason: string | null;
  removed_at: string | null;
  removal_reason: string | null;
}

interface GcJson {
  dry_run: boolean;
  expired: { id: string; reason: string }[];
  expired_count: number;
  collected: { blobs: number; bytes: number };
  kept: { held: number; latest: number };
}

interface ScrubJson {
  state: string;
  checked: { blobs: number; bytes: number };
  missing: number;
  damaged: number;
  findings: { blake3: string; kind: string; size: number }[];
}

/** Exit `status` and exactly one error line, `artifactstore: <code>: <detail>`, on stderr; nothing on stdout. */
function expectFailure(run: CliRun, status: number, code: string): void {
  const errors = run.stderr.split('\n').filter((line) => /^artifactstore: [a-z_]+: /.test(line));
  expect({ status: run.code, errors: errors.length, stdout: run.stdout }).toEqual({
    status,
    errors: 1,
    stdout: '',
  });
  expect(errors[0]).toMatch(new RegExp(`^artifactstore: ${code}: \\S`));
}

function expectDone(run: CliRun): void {
  expect(run.stderr).not.toMatch(/^artifactstore: [a-z_]+: /m);
  expect(run.code).toBe(0);
}

describe.each(dialectsUnderTest())('artifactstore CLI package lifecycle on $dialect', (dialectUnderTest) => {
  let database: TestDatabase;
  let api: ApiHarness;
  let work: string;
  let url: string;
  /** The collector's clock runs this far ahead of the real one. */
  let offsetMs = 0;
  const as = (role: keyof typeof TOKENS): Record<string, string> => ({
    ARTIFACTSTORE_URL: url,
    ARTIFACTSTORE_TOKEN: TOKENS[role],
  });

  /** Pushes a small tree of random bytes as `role`: its package id, content address and one file's BLAKE3 key. */
  const push = async (
    retention = 'standard',
    role: keyof typeof TOKENS = 'producer',
  ): Promise<{ id: string; address: string }> => {
    const source = join(work, `tree-${randomBytes(4).toString('hex')}`);
    await mkdir(source);
    await writeFile(join(source, 'a.bin'), randomBytes(4096));
    await writeFile(join(source, 'b.txt'), `${randomBytes(8).toString('hex')}\n`);
    const name = `life-${randomBytes(4).toString('hex')}`;
    const pushed = await runCli(
      ['push', source, '--name', name, '--producer', 'ci', '--subject', 'git:1', '--retention', retention],
      as(role),
    );
    expectDone(pushed);
    const id = /package ([0-9a-f-]{36}) created/.exec(pushed.stderr)?.[1] ?? '';
    return { id, address: pushed.stdout.trim() };
  };

  const show = async (ref: string): Promise<PackageJson> => {
    const shown = await runCli(['show', ref, '--json'], as('reader'));
    expectDone(shown);
    return JSON.parse(shown.stdout) as PackageJson;
  };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'artifactstore-cli-lifecycle-'));
    const tokensFile = join(work, 'tokens.json');
    await writeFile(tokensFile, tokensJson(TOKENS));
    database = await dialectUnderTest.create({
      ARTIFACTSTORE_TOKENS_FILE: tokensFile,
      ARTIFACTSTORE_GC_INTERVAL_SECONDS: '0',
      ARTIFACTSTORE_GC_GRACE_SECONDS: '0',
      ARTIFACTSTORE_KEEP_LATEST_PER_NAME: '0',
    });
    api = await startApi(database);
    url = api.url;
    api.app.get(Clock).now = () => Date.now() + offsetMs;
  });

  afterAll(async () => {
    await api.close();
    await database.dispose();
    await rm(work, { recursive: true, force: true });
  });

  it('lets a producer delete its package still created, but not a finalized one (exit 5, deletion_forbidden)', async () => {
    const open = await createPackage(api, {}, TOKENS.producer);
    const removed = await runCli(['rm', open.id, '--reason', 'wrong branch'], as('producer'));
    expectDone(removed);
    expect(removed.stdout).toBe(`deleted ${open.id} (wrong branch)\n`);
    expect(await show(open.id)).toMatchObject({ status: 'deleted', removal_reason: 'wrong branch' });

    const { id, address } = await push();
    expectFailure(await runCli(['rm', address], as('producer')), 5, 'deletion_forbidden');
    expectFailure(await runCli(['rm', id, '--json'], as('reader')), 5, 'forbidden');
    expect((await show(id)).status).toBe('finalized');
  });

  it('lets an admin delete a finalized package by its address: pull exits 2 (package_gone), its metadata stays', async () => {
    const { id, address } = await push();
    const removed = await runCli(['rm', address, '--reason', 'leaked a secret', '--json'], as('admin'));
    expectDone(removed);
    expect(JSON.parse(removed.stdout)).toMatchObject({
      id,
      status: 'deleted',
      removal_reason: 'leaked a secret',
      removed_at: expect.any(String) as string,
    });

    const target = join(work, 'pulled-deleted');
    expectFailure(await runCli(['pull', address, target], as('reader')), 2, 'package_gone');
    await expect(access(target)).rejects.toThrow();
    expectFailure(await runCli(['pull', id, target, '--json'], as('reader')), 2, 'package_gone');

    const shown = await runCli(['show', id], as('reader'));
    expectDone(shown);
    expect(shown.stdout).toContain('status           deleted\n');
    expect(shown.stdout).toMatch(/^removed at {7}\S+ \(leaked a secret\)$/m);
    // The manifest stays: the package can still be checked against.
    expectDone(await runCli(['manifest', address, '--json'], as('reader')));

    expectFailure(await runCli(['rm', id], as('admin')), 3, 'illegal_package_state');
  });

  it('keeps a held package from deletion (exit 3, package_held) until it is released', async () => {
    const { id, address } = await push();
    const held = await runCli(['hold', address, '--reason', 'audit 7'], as('admin'));
    expectDone(held);
    expect(held.stdout).toBe(`held ${id} (audit 7)\n`);
    expect(await show(id)).toMatchObject({ held: true, hold_reason: 'audit 7', expires_at: null });
    const listed = await runCli(['ls', '--limit', '1000'], as('reader'));
    expect(listed.stdout.split('\n').find((line) => line.startsWith(id))).toMatch(/ {2}finalized,held {2}/);
    expect((await runCli(['show', id], as('reader'))).stdout).toContain('held             yes (audit 7)\n');
    expectFailure(await runCli(['hold', id], as('producer')), 5, 'forbidden');

    expectFailure(await runCli(['rm', id, '--json'], as('admin')), 3, 'package_held');
    expectFailure(await runCli(['rm', id], as('admin')), 3, 'package_held');

    const released = await runCli(['release', id, '--json'], as('admin'));
    expectDone(released);
    const after = JSON.parse(released.stdout) as PackageJson;
    expect(after).toMatchObject({
      id,
      held: false,
      hold_reason: null,
      expires_at: expect.any(String) as string,
    });
    expect((await runCli(['release', id], as('admin'))).stdout).toMatch(
      new RegExp(`^released ${id}; expires at \\S+\\n$`),
    );
    expect((await show(id)).held).toBe(false);
    expectDone(await runCli(['rm', id], as('admin')));
    expect((await show(id)).status).toBe('deleted');
  });

  it('changes the retention class (the expiry follows); an unknown class exits 1', async () => {
    const { id, address } = await push('standard');
    const before = await show(id);
    const changed = await runCli(['retention', address, 'long_term', '--json'], as('admin'));
    expectDone(changed);
    const after = JSON.parse(changed.stdout) as PackageJson;
    expect(after).toMatchObject({ id, retention_class: 'long_term' });
    expect(Date.parse(after.expires_at ?? '')).toBeGreaterThan(Date.parse(before.expires_at ?? ''));

    const human = await runCli(['retention', id, 'permanent'], as('admin'));
    expectDone(human);
    expect(human.stdout).toBe(`${id}: retention class permanent; it does not expire\n`);

    expectFailure(await runCli(['retention', id, 'forever-ish'], as('admin')), 1, 'unknown_retention_class');
    expectFailure(await runCli(['retention', id, 'standard'], as('producer')), 5, 'forbidden');
    expect((await show(id)).retention_class).toBe('permanent');
  });

  it('gc --dry-run reports what would expire and changes nothing; gc then expires and collects it', async () => {
    const { id, address } = await push('ephemeral');
    offsetMs = 8 * DAY_MS;
    try {
      const dry = await runCli(['gc', '--dry-run', '--json'], as('admin'));
      expectDone(dry);
      const report = JSON.parse(dry.stdout) as GcJson;
      expect(report.dry_run).toBe(true);
      expect(report.expired).toContainEqual({ id, reason: 'retention' });
      expect(report.expired_count).toBeGreaterThanOrEqual(1);
      expect(report.collected.blobs).toBeGreaterThanOrEqual(2);
      expect((await show(id)).status).toBe('finalized');
      expectDone(await runCli(['pull', address, join(work, 'pulled-before-gc')], as('reader')));

      const human = await runCli(['gc', '--dry-run'], as('admin'));
      expectDone(human);
      expect(human.stdout).toMatch(/^would expire \d+ packages?:$/m);
      expect(human.stdout).toContain(`  ${id}  retention\n`);
      expect(human.stdout).toMatch(/^would collect \d+ blobs? \([\d.]+ (?:B|KiB|MiB)\)$/m);
      expect(human.stdout).toMatch(/^kept past their expiry: \d+ held, \d+ as the latest of their name$/m);
      expect(human.stdout).toContain('dry run: nothing was changed\n');
      expect((await show(id)).status).toBe('finalized');

      expectFailure(await runCli(['gc'], as('producer')), 5, 'forbidden');

      const run = await runCli(['gc', '--json'], as('admin'));
      expectDone(run);
      const done = JSON.parse(run.stdout) as GcJson;
      expect(done.dry_run).toBe(false);
      expect(done.expired).toContainEqual({ id, reason: 'retention' });
      expect(done.collected.blobs).toBeGreaterThanOrEqual(2);
      expect(await show(id)).toMatchObject({ status: 'expired', removal_reason: 'retention' });
      expectFailure(
        await runCli(['pull', address, join(work, 'pulled-after-gc')], as('reader')),
        2,
        'package_gone',
      );

      const again = await runCli(['gc'], as('admin'));
      expectDone(again);
      expect(again.stdout).toMatch(/^expired 0 packages\ncollected 0 blobs \(0 B\)\n/);
    } finally {
      offsetMs = 0;
    }
  });

  it('works the same with --local, which acts as an admin', async () => {
    const target = database.config.database;
    const local = {
      ARTIFACTSTORE_DATA_DIR: database.config.dataDir,
      ...(target.dialect === 'postgres' ? { ARTIFACTSTORE_DATABASE_URL: target.url } : {}),
      ARTIFACTSTORE_URL: 'http://127.0.0.1:1',
    };
    const { id, address } = await push();
    expectDone(await runCli(['--local', 'hold', address, '--reason', 'local hold'], local));
    expectFailure(await runCli(['--local', 'rm', id], local), 3, 'package_held');
    expectDone(await runCli(['--local', 'release', id], local));
    const changed = await runCli(['--local', 'retention', id, 'long_term', '--json'], local);
    expectDone(changed);
    expect(JSON.parse(changed.stdout)).toMatchObject({ retention_class: 'long_term' });
    const removed = await runCli(['--local', 'rm', id, '--reason', 'by hand'], local);
    expectDone(removed);
    expect(removed.stdout).toBe(`deleted ${id} (by hand)\n`);
    expect(await show(id)).toMatchObject({ status: 'deleted', removal_reason: 'by hand' });

    const dry = await runCli(['--local', 'gc', '--dry-run', '--json'], local);
    expectDone(dry);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dry_run: true });
    // Without --wait: a --local pass runs in the CLI's own process, so it is waited for.
    const scrubbed = await runCli(['--local', 'scrub', '--json'], local);
    expectDone(scrubbed);
    expect(JSON.parse(scrubbed.stdout)).toMatchObject({ state: 'done', missing: 0, damaged: 0 });

    const events = await runCli(['tail', '--json'], as('reader'));
    const actors = events.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { event_type: string; subject_id: string; actor: string })
      .filter((event) => event.subject_id === id && event.event_type !== 'v1.package.created')
      .filter((event) => !/file|finalized/.test(event.event_type))
      .map((event) => event.actor);
    expect(new Set(actors)).toEqual(new Set(['local']));
  });

  it('scrub --wait reports a clean store (exit 0), then a damaged blob (exit 4, scrub_found_damage)', async () => {
    const clean = await runCli(['scrub', '--wait', '--json'], as('admin'));
    expectDone(clean);
    expect(clean.stderr).toBe('');
    expect(JSON.parse(clean.stdout)).toMatchObject({ state: 'done', missing: 0, damaged: 0 });
    const human = await runCli(['scrub', '--wait'], as('admin'));
    expectDone(human);
    expect(human.stdout).toMatch(
      /^scrub done at \S+: \d+ blobs \([\d.]+ (?:B|KiB|MiB)\) checked; 0 missing, 0 damaged, \d+ orphaned\n/,
    );
    expectFailure(await runCli(['scrub'], as('producer')), 5, 'forbidden');

    const { id } = await push();
    const files = await api
      .http()
      .get(`/v1/packages/${id}/files`)
      .set('Authorization', `Bearer ${TOKENS.reader}`)
      .expect(200);
    const blob = (files.body as { items: { relative_path: string; blake3: string }[] }).items.find(
      (file) => file.relative_path === 'a.bin',
    )?.blake3;
    if (blob === undefined) throw new Error('a.bin was not uploaded');
    const path = join(database.config.dataDir, 'blobs', blob.slice(0, 2), blob.slice(2, 4), blob);
    const bytes = await readFile(path);
    bytes[0] = (bytes[0] ?? 0) ^ 0xff;
    await writeFile(path, bytes);

    const damaged = await runCli(['scrub', '--wait', '--json'], as('admin'));
    expect(damaged.code).toBe(4);
    expect(damaged.stderr).toMatch(/^artifactstore: scrub_found_damage: 0 missing and 1 damaged blobs/m);
    const report = JSON.parse(damaged.stdout) as ScrubJson;
    expect(report).toMatchObject({ state: 'done', missing: 0, damaged: 1 });
    expect(report.findings).toContainEqual({ blake3: blob, kind: 'mismatch', size: 4096 });
    const told = await runCli(['scrub', '--wait'], as('admin'));
    expect(told.code).toBe(4);
    expect(told.stdout).toContain(`mismatch  ${blob}  4.0 KiB\n`);
  });
});
