import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { open, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blake3, toHex } from '@artifactstore/codec';
import { TransparencyLog } from '@artifactstore/registry';
import { startApi, type ApiHarness } from '../support/api-harness.js';
import { CLI, digestTree, runCli } from '../support/cli-runner.js';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';

interface PackageJson {
  id: string;
  name: string;
  status: string;
  retention_class: string;
  metadata: Record<string, unknown>;
  content_address: string | null;
  file_count: number;
}

interface ImportJson {
  packages: { id: string; content_address: string; result: string; files: number }[];
  uploaded: number;
  bytes: number;
}

/** A pushed package: the tree it came from, its id and content address. */
interface Pushed {
  readonly source: string;
  readonly id: string;
  readonly address: string;
}

/** Exit `status` and exactly one error line, `artifactstore: <code>: <detail>`, on stderr; its detail. */
function expectFailure(run: { code: number | null; stderr: string }, status: number, code: string): string {
  const errors = run.stderr.split('\n').filter((line) => /^artifactstore: [a-z_]+: /.test(line));
  expect({ status: run.code, errors: errors.length }).toEqual({ status, errors: 1 });
  expect(errors[0]).toMatch(new RegExp(`^artifactstore: ${code}: \\S`));
  return (errors[0] ?? '').replace(/^artifactstore: [a-z_]+: /, '');
}

function expectDone(run: { code: number | null; stderr: string }): void {
  expect(run.stderr).not.toMatch(/^artifactstore: [a-z_]+: /m);
  expect(run.code).toBe(0);
}

/** Runs the CLI with `stdin` (a file) as its standard input, and its stdout as bytes. */
async function runCliBytes(
  args: readonly string[],
  env: Record<string, string>,
  stdin?: string,
): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  const input = stdin === undefined ? undefined : await open(stdin, 'r');
  try {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH, ...env },
      stdio: [input?.fd ?? 'ignore', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', resolve);
    });
    return { code, stdout: Buffer.concat(stdout), stderr };
  } finally {
    await input?.close();
  }
}

describe.each(dialectsUnderTest())(
  'artifactstore export, import and verify-bundle on $dialect',
  (dialectUnderTest) => {
    let work: string;
    let databaseA: TestDatabase;
    let databaseB: TestDatabase;
    let databaseC: TestDatabase;
    let serverA: ApiHarness;
    let serverB: ApiHarness;
    let onA: Record<string, string>;
    let onB: Record<string, string>;
    /** `--local` on store C, which no server runs. */
    let localC: Record<string, string>;
    let keyA: string;
    let keyB: string;
    /** Two packages sharing a blob; the second in the long_term class. */
    let first: Pushed;
    let second: Pushed;
    let bundle: string;

    const push = async (
      files: Record<string, Buffer | string>,
      options: { retention?: string; name?: string } = {},
    ): Promise<Pushed> => {
      const source = join(work, `tree-${randomBytes(4).toString('hex')}`);
      for (const [path, bytes] of Object.entries(files)) {
        await mkdir(join(source, path, '..'), { recursive: true });
        await writeFile(join(source, path), bytes);
      }
      const pushed = await runCli(
        [
          'push',
          source,
          '--name',
          options.name ?? 'bundled',
          '--producer',
          'ci',
          '--subject',
          `git:${randomBytes(3).toString('hex')}`,
          '--retention',
          options.retention ?? 'standard',
          '--meta',
          'branch=main',
        ],
        onA,
      );
      expectDone(pushed);
      const id = /package ([0-9a-f-]{36}) created/.exec(pushed.stderr)?.[1] ?? '';
      return { source, id, address: pushed.stdout.trim() };
    };

    const headOf = async (server: ApiHarness): Promise<number> =>
      ((await server.http().get('/readyz').expect(200)).body as { head_sequence: number }).head_sequence;
    const packageOn = async (server: ApiHarness, id: string): Promise<PackageJson | undefined> => {
      const answer = await server.http().get(`/v1/packages/${id}`);
      return answer.status === 404 ? undefined : (answer.body as PackageJson);
    };
    /** Exports `refs` from server A to a new file; `packages`: how many they name. */
    const exportTo = async (refs: readonly string[], packages = refs.length): Promise<string> => {
      const file = join(work, `bundle-${randomBytes(4).toString('hex')}.tar`);
      const exported = await runCli(['export', ...refs, '--out', file], onA);
      expectDone(exported);
      expect(exported.stdout).toMatch(new RegExp(`^exported ${packages} packages \\(.*\\) to ${file}\\n$`));
      return file;
    };
    /** Pulls `address` from `env`'s store and compares the files with the tree it was pushed from. */
    const expectSameFiles = async (
      pushed: Pushed,
      env: Record<string, string>,
      local = false,
    ): Promise<void> => {
      const target = join(work, `pulled-${randomBytes(4).toString('hex')}`);
      expectDone(await runCli([...(local ? ['--local'] : []), 'pull', pushed.address, target], env));
      expect(await digestTree(target)).toEqual(await digestTree(pushed.source));
    };

    beforeAll(async () => {
      work = await mkdtemp(join(tmpdir(), 'artifactstore-cli-bundle-'));
      [databaseA, databaseB, databaseC] = await Promise.all([
        dialectUnderTest.create(),
        dialectUnderTest.create(),
        dialectUnderTest.create(),
      ]);
      serverA = await startApi(databaseA);
      serverB = await startApi(databaseB);
      onA = { ARTIFACTSTORE_URL: serverA.url };
      onB = { ARTIFACTSTORE_URL: serverB.url };
      const target = databaseC.config.database;
      localC = {
        ARTIFACTSTORE_DATA_DIR: databaseC.config.dataDir,
        ...(target.dialect === 'postgres' ? { ARTIFACTSTORE_DATABASE_URL: target.url } : {}),
        ARTIFACTSTORE_URL: 'http://127.0.0.1:9',
      };
      keyA = serverA.app.get(TransparencyLog).verifierKey;
      keyB = serverB.app.get(TransparencyLog).verifierKey;
      const shared = randomBytes(70_000);
      first = await push({ 'shared.bin': shared, 'dir/a.txt': `a ${randomUUID()}\n`, empty: '' });
      second = await push(
        { 'copy/shared.bin': shared, 'b.bin': randomBytes(600_000) },
        { retention: 'long_term' },
      );
    });

    afterAll(async () => {
      await serverA.close();
      await serverB.close();
      await Promise.all([databaseA.dispose(), databaseB.dispose(), databaseC.dispose()]);
      await rm(work, { recursive: true, force: true });
    });

    it('exports two packages sharing a blob; exporting them again gives the same bytes, to a file or stdout', async () => {
      bundle = await exportTo([first.address, second.id]);
      const again = await exportTo([second.address, first.id, first.address], 2);
      const bytes = await readFile(bundle);
      expect((await readFile(again)).equals(bytes)).toBe(true);
      const toStdout = await runCliBytes(['export', first.id, second.id], onA);
      expectDone(toStdout);
      expect(toStdout.stdout.equals(bytes)).toBe(true);
      expect(toStdout.stderr).toMatch(
        /^artifactstore: exported 2 packages \(5 files, 4 blobs, \d+ bytes\)$/m,
      );

      // Four distinct blobs (the shared one once), each entry's name in its header only.
      const text = bytes.toString('latin1');
      const sharedHex = toHex(blake3(await readFile(join(first.source, 'shared.bin'))));
      expect(text.split('blobs/').length - 1).toBe(4);
      expect(text.split(`blobs/${sharedHex}`).length - 1).toBe(1);
    });

    it('refuses to export a package that is not finalized, before writing anything', async () => {
      const draft = (
        await serverA
          .http()
          .post('/v1/packages')
          .send({ name: 'draft', producer: 'ci', subject: 'git:1', retention_class: 'standard' })
          .expect(201)
      ).body as PackageJson;
      const out = join(work, 'never.tar');
      const refused = await runCli(['export', first.id, draft.id, '--out', out], onA);
      expect(expectFailure(refused, 3, 'illegal_package_state')).toContain(draft.id);
      await expect(readFile(out)).rejects.toMatchObject({ code: 'ENOENT' });
    });

    it('verify-bundle checks a bundle offline, and with --log-key every receipt in the signed log', async () => {
      const offline = { ARTIFACTSTORE_URL: 'http://127.0.0.1:9' };
      const plain = await runCli(['verify-bundle', bundle], offline);
      expectDone(plain);
      expect(plain.stdout).toContain(`${first.id} ${first.address} bundled (3 files)`);
      expect(plain.stdout).toMatch(
        /a sound bundle of 2 packages, 5 files, 4 blobs \(\d+ bytes\); receipts not checked/,
      );

      const keyed = await runCli(['verify-bundle', bundle, '--json'], {
        ...offline,
        ARTIFACTSTORE_LOG_KEY: keyA,
      });
      expectDone(keyed);
      const result = JSON.parse(keyed.stdout) as {
        ok: boolean;
        receipts_checked: boolean;
        packages: { id: string; log: { leaf_index: number; tree_size: number } }[];
      };
      expect(result).toMatchObject({ ok: true, receipts_checked: true });
      for (const pkg of result.packages) expect(pkg.log.tree_size).toBe(pkg.log.leaf_index + 1);

      const otherKey = await runCli(['verify-bundle', bundle, '--log-key', keyB], offline);
      expectFailure(otherKey, 4, 'receipt_invalid');
    });

    it('imports into a fresh server with the same ids, content addresses, retention and files', async () => {
      const imported = await runCli(['import', bundle, '--json'], onB);
      expectDone(imported);
      const result = JSON.parse(imported.stdout) as ImportJson;
      expect(
        result.packages
          .map(({ id, content_address, result: outcome }) => [id, content_address, outcome])
          .sort(),
      ).toEqual(
        [
          [first.id, first.address, 'imported'],
          [second.id, second.address, 'imported'],
        ].sort(),
      );
      expect(result.uploaded).toBe(5);
      for (const pushed of [first, second]) {
        const [source, copy] = [await packageOn(serverA, pushed.id), await packageOn(serverB, pushed.id)];
        expect(copy).toMatchObject({
          status: 'finalized',
          content_address: pushed.address,
          name: source?.name,
          retention_class: source?.retention_class,
          metadata: { branch: 'main' },
        });
        await expectSameFiles(pushed, onB);
      }
      expect((await packageOn(serverB, second.id))?.retention_class).toBe('long_term');
    });

    it('skips packages already there: a second import writes nothing', async () => {
      const before = await headOf(serverB);
      const again = await runCli(['import', bundle], onB);
      expectDone(again);
      expect(again.stdout.trim().split('\n').sort()).toEqual(
        [
          `skipped ${first.id} ${first.address} (bundled, 3 files, already here)`,
          `skipped ${second.id} ${second.address} (bundled, 2 files, already here)`,
        ].sort(),
      );
      expect(await headOf(serverB)).toBe(before);
    });

    it('refuses an id taken by another package (exit 3, package_conflict): nothing of the bundle is written', async () => {
      const third = await push({ 'c.txt': `c ${randomUUID()}\n` });
      const fourth = await push({ 'd.txt': `d ${randomUUID()}\n` });
      const conflicting = await exportTo([third.id, fourth.id]);
      await serverB
        .http()
        .post('/v1/packages')
        .send({
          id: third.id,
          name: 'squatter',
          producer: 'ci',
          subject: 'git:0',
          retention_class: 'standard',
        })
        .expect(201);
      const before = await headOf(serverB);
      const refused = await runCli(['import', conflicting], onB);
      expect(expectFailure(refused, 3, 'package_conflict')).toContain(third.id);
      expect(await headOf(serverB)).toBe(before);
      expect(await packageOn(serverB, fourth.id)).toBeUndefined();
      expect(await packageOn(serverB, third.id)).toMatchObject({ name: 'squatter', file_count: 0 });
    });

    it('refuses a bundle with one flipped byte in a blob (exit 4, naming it): the target gets no package', async () => {
      const fifth = await push({ 'e.bin': randomBytes(5000) });
      const file = await exportTo([fifth.id]);
      const bytes = await readFile(file);
      const hex = toHex(blake3(await readFile(join(fifth.source, 'e.bin'))));
      const data = bytes.indexOf(`blobs/${hex}`) + 512;
      bytes[data + 1234] = (bytes[data + 1234] ?? 0) ^ 0x01;
      const damaged = join(work, 'damaged.tar');
      await writeFile(damaged, bytes);

      const before = await headOf(serverB);
      const refused = await runCli(['import', damaged], onB);
      expect(expectFailure(refused, 4, 'bundle_invalid')).toMatch(
        new RegExp(`^blobs/${hex}: BLAKE3 mismatch`),
      );
      expect(await headOf(serverB)).toBe(before);
      expect(await packageOn(serverB, fifth.id)).toBeUndefined();
      expectFailure(await runCli(['verify-bundle', damaged], {}), 4, 'bundle_invalid');
      const fromStdin = await runCliBytes(['import', '-'], onB, damaged);
      expectFailure(fromStdin, 4, 'bundle_invalid');
      expect(await packageOn(serverB, fifth.id)).toBeUndefined();

      // The sound bundle, from stdin.
      const imported = await runCliBytes(['import', '-', '--json'], onB, file);
      expectDone(imported);
      expect((JSON.parse(imported.stdout.toString('utf8')) as ImportJson).packages).toMatchObject([
        { id: fifth.id, content_address: fifth.address, result: 'imported' },
      ]);
      await expectSameFiles(fifth, onB);
    });

    it('imports with --local into a store no server runs', async () => {
      const imported = await runCli(['--local', 'import', bundle], localC);
      expectDone(imported);
      expect(imported.stdout).toContain(`imported ${first.id} ${first.address}`);
      expect(imported.stdout).toContain(`imported ${second.id} ${second.address}`);
      await expectSameFiles(first, localC, true);
      const again = await runCli(['--local', 'import', bundle], localC);
      expectDone(again);
      expect(again.stdout).toContain(`skipped ${second.id}`);
    });
  },
);
