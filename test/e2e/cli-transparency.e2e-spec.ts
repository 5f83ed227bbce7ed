import { createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  formatCheckpoint,
  formatVerifierKey,
  parseCheckpoint,
  rawEd25519PublicKey,
  signNote,
} from '@artifactstore/codec';
import { TransparencyLog } from '@artifactstore/registry';
import { startApi, type ApiHarness } from '../support/api-harness.js';
import { runCli, type CliRun } from '../support/cli-runner.js';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';

/** Nothing listens on port 9 of the loopback: a client sent there has no server. */
const NO_SERVER = 'http://127.0.0.1:9';

interface ReceiptJson {
  package_id: string;
  leaf_index: number;
  entry: string;
  manifest: string;
  checkpoint: string;
  inclusion_proof: string[];
}

interface LogJson {
  origin: string;
  leaf_index: number;
  tree_size: number;
  checkpoint: string;
  newest_size: number;
}

/** Exit `status` and exactly one error line, `artifactstore: <code>: <detail>`, on stderr. */
function expectFailure(run: CliRun, status: number, code: string): string {
  const errors = run.stderr.split('\n').filter((line) => /^artifactstore: [a-z_]+: /.test(line));
  expect({ status: run.code, errors: errors.length }).toEqual({ status, errors: 1 });
  expect(errors[0]).toMatch(new RegExp(`^artifactstore: ${code}: \\S`));
  return errors[0] ?? '';
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function expectDone(run: CliRun): void {
  expect(run.stderr).not.toMatch(/^artifactstore: [a-z_]+: /m);
  expect(run.code).toBe(0);
}

describe.each(dialectsUnderTest())(
  'artifactstore CLI and the transparency log on $dialect',
  (dialectUnderTest) => {
    let database: TestDatabase;
    let api: ApiHarness;
    let work: string;
    let stateHome: string;
    let logKey: string;
    /** The server, and this test's checkpoint memory. */
    let online: Record<string, string>;

    /** Pushes a small tree of random bytes: its directory, package id and content address. */
    const push = async (): Promise<{ source: string; id: string; address: string }> => {
      const source = join(work, `tree-${randomBytes(4).toString('hex')}`);
      await mkdir(join(source, 'sub'), { recursive: true });
      await writeFile(join(source, 'a.bin'), randomBytes(2048));
      await writeFile(join(source, 'sub', 'b.txt'), `${randomBytes(8).toString('hex')}\n`);
      const pushed = await runCli(
        [
          'push',
          source,
          '--name',
          'tlog',
          '--producer',
          'ci',
          '--subject',
          'git:1',
          '--retention',
          'standard',
        ],
        online,
      );
      expectDone(pushed);
      const id = /package ([0-9a-f-]{36}) created/.exec(pushed.stderr)?.[1] ?? '';
      return { source, id, address: pushed.stdout.trim() };
    };

    /** `receipt <ref> --out <file>`: the file, and the receipt it holds. */
    const saveReceipt = async (ref: string): Promise<{ file: string; receipt: ReceiptJson }> => {
      const file = join(work, `receipt-${randomBytes(4).toString('hex')}.json`);
      const saved = await runCli(['receipt', ref, '--out', file], online);
      expectDone(saved);
      expect(saved.stdout).toBe('');
      return { file, receipt: JSON.parse(await readFile(file, 'utf8')) as ReceiptJson };
    };

    /** The files of the checkpoint memory. */
    const memoryFiles = async (): Promise<string[]> =>
      (await readdir(join(stateHome, 'artifactstore', 'checkpoints'))).map((name) =>
        join(stateHome, 'artifactstore', 'checkpoints', name),
      );

    /** A checkpoint of the server's log, as a server that rewrote its history would sign it: its own key. */
    const forgedCheckpoint = async (size: number): Promise<string> => {
      const dataDir = database.config.dataDir;
      const origin = (await readFile(join(dataDir, 'log-origin'), 'utf8')).trim();
      const key = createPrivateKey(await readFile(join(dataDir, 'log-key.pem'), 'utf8'));
      return signNote(formatCheckpoint({ origin, size, root: randomBytes(32) }), origin, key);
    };

    beforeAll(async () => {
      work = await mkdtemp(join(tmpdir(), 'artifactstore-cli-transparency-'));
      stateHome = join(work, 'state');
      database = await dialectUnderTest.create();
      api = await startApi(database);
      online = { ARTIFACTSTORE_URL: api.url, XDG_STATE_HOME: stateHome };
      logKey = api.app.get(TransparencyLog).verifierKey;
    });

    afterAll(async () => {
      await api.close();
      await database.dispose();
      await rm(work, { recursive: true, force: true });
    });

    it("prints the server's verifier key, and with --local the store's own (the same)", async () => {
      const printed = await runCli(['log-key'], online);
      expectDone(printed);
      expect(printed.stdout).toBe(`${logKey}\n`);
      const origin = (await readFile(join(database.config.dataDir, 'log-origin'), 'utf8')).trim();
      expect(logKey.startsWith(`${origin}+`)).toBe(true);
      const json = await runCli(['log-key', '--json'], online);
      expect(JSON.parse(json.stdout)).toEqual({ verifier_key: logKey, origin });

      const target = database.config.database;
      const local = await runCli(['--local', 'log-key'], {
        ARTIFACTSTORE_DATA_DIR: database.config.dataDir,
        ...(target.dialect === 'postgres' ? { ARTIFACTSTORE_DATABASE_URL: target.url } : {}),
        // The client's own variables are dropped before the server's configuration is read.
        ARTIFACTSTORE_URL: NO_SERVER,
        ARTIFACTSTORE_LOG_KEY: logKey,
      });
      expectDone(local);
      expect(local.stdout).toBe(`${logKey}\n`);
    });

    it("writes a finalized package's receipt, by address or id, to stdout or a file", async () => {
      const { id, address } = await push();
      const printed = await runCli(['receipt', address], online);
      expectDone(printed);
      const receipt = JSON.parse(printed.stdout) as ReceiptJson;
      expect(receipt).toMatchObject({ package_id: id, leaf_index: expect.any(Number) as number });
      const signedText = receipt.checkpoint.slice(0, receipt.checkpoint.indexOf('\n\n') + 1);
      expect(parseCheckpoint(signedText).size).toBeGreaterThan(receipt.leaf_index);
      const saved = await saveReceipt(id);
      expect(saved.receipt.entry).toBe(receipt.entry);

      const older = await runCli(['receipt', id, '--size', String(receipt.leaf_index + 1), '--json'], online);
      expectDone(older);
      const olderReceipt = JSON.parse(older.stdout) as ReceiptJson;
      expect(olderReceipt.checkpoint).toMatch(new RegExp(`\\n${receipt.leaf_index + 1}\\n`));
      expectFailure(
        await runCli(['receipt', id, '--size', String(10 ** 9)], online),
        2,
        'log_range_not_available',
      );
      expectFailure(
        await runCli(['receipt', '01890a5d-ac96-774b-bcce-b302099a8057'], online),
        2,
        'package_not_found',
      );
    });

    it('pull --log-key checks the receipt and remembers the checkpoint; a newer one is proven to extend it', async () => {
      const first = await push();
      const pulled = await runCli(
        ['pull', first.address, join(work, 'pulled-1'), '--log-key', logKey, '--json'],
        online,
      );
      expectDone(pulled);
      const firstLog = (JSON.parse(pulled.stdout) as { log: LogJson }).log;
      expect(firstLog).toMatchObject({ origin: logKey.split('+')[0], checkpoint: 'first' });
      const files = await memoryFiles();
      expect(files).toHaveLength(1);

      const second = await push();
      const again = await runCli(['pull', second.id, join(work, 'pulled-2')], {
        ...online,
        ARTIFACTSTORE_LOG_KEY: logKey,
      });
      expectDone(again);
      expect(again.stdout).toMatch(/^blake3:[0-9a-f]{64}: 2 files in .*, entry \d+ of \S+ \(size \d+\)\n$/);
      const remembered = JSON.parse(await readFile(files[0] ?? '', 'utf8')) as {
        size: number;
        checkpoint: string;
      };
      expect(remembered.size).toBeGreaterThan(firstLog.tree_size);

      // Without --log-key, pull is as it was.
      const plain = await runCli(['pull', second.id, join(work, 'pulled-3')], online);
      expectDone(plain);
      expect(plain.stdout).toMatch(/^blake3:[0-9a-f]{64}: 2 files in \S+\n$/);
    });

    it('verify --receipt --log-key checks everything with no server; damage anywhere is exit 4', async () => {
      const { source, id, address } = await push();
      const { file, receipt } = await saveReceipt(address);
      const offline = { XDG_STATE_HOME: stateHome };
      const verify = (ref: string, receiptFile: string, key = logKey, dir = source): Promise<CliRun> =>
        runCli(['verify', dir, ref, '--receipt', receiptFile, '--log-key', key, '--url', NO_SERVER], offline);

      const byAddress = await verify(address, file);
      expectDone(byAddress);
      expect(byAddress.stdout).toMatch(
        new RegExp(
          `^${escapeRegExp(source)} matches ${address} \\(2 files\\), entry ${receipt.leaf_index} of \\S+ \\(size \\d+\\)\\n$`,
        ),
      );
      const byId = await runCli(['verify', source, id, '--receipt', file, '--url', NO_SERVER, '--json'], {
        ...offline,
        ARTIFACTSTORE_LOG_KEY: logKey,
      });
      expectDone(byId);
      expect(JSON.parse(byId.stdout)).toMatchObject({
        ok: true,
        content_address: address,
        log: { leaf_index: receipt.leaf_index },
      });

      // Another package's receipt, a changed manifest, a changed proof.
      const other = await saveReceipt((await push()).address);
      expect(expectFailure(await verify(address, other.file), 4, 'receipt_invalid')).toContain(
        `not of ${address}`,
      );
      const tamper = async (changed: Partial<ReceiptJson>): Promise<string> => {
        const tampered = join(work, `tampered-${randomBytes(4).toString('hex')}.json`);
        await writeFile(tampered, JSON.stringify({ ...receipt, ...changed }));
        return tampered;
      };
      expectFailure(
        await verify(address, await tamper({ manifest: other.receipt.manifest })),
        4,
        'receipt_invalid',
      );
      const proof = [...receipt.inclusion_proof];
      proof[0] = randomBytes(32).toString('base64');
      expect(
        expectFailure(await verify(id, await tamper({ inclusion_proof: proof })), 4, 'receipt_invalid'),
      ).toMatch(/inclusion proof .* does not lead to the root/);
      expectFailure(
        await verify(id, await tamper({ checkpoint: receipt.checkpoint.replace(/\n\d+\n/, '\n1\n') })),
        4,
        'receipt_invalid',
      );

      // A file of the tree changed.
      const copy = join(work, `copy-${randomBytes(4).toString('hex')}`);
      expectDone(await runCli(['pull', address, copy], online));
      await writeFile(join(copy, 'sub', 'b.txt'), 'changed\n');
      const changed = await verify(address, file, logKey, copy);
      expectFailure(changed, 4, 'verify_failed');
      expect(changed.stdout).toBe('changed  sub/b.txt (size 8 instead of 17, SHA-256, BLAKE3)\n');

      // A key of the same name that did not sign the checkpoint.
      const origin = logKey.split('+')[0] ?? '';
      const stranger = formatVerifierKey(
        origin,
        rawEd25519PublicKey(generateKeyPairSync('ed25519').privateKey),
      );
      expect(expectFailure(await verify(address, file, stranger), 4, 'receipt_invalid')).toMatch(
        /the checkpoint is not signed by the log key/,
      );

      // Not a receipt at all; no key to check it with.
      const notJson = join(work, 'not-a-receipt.json');
      await writeFile(notJson, 'hello');
      expectFailure(await verify(address, notJson), 1, 'invalid_input');
      expectFailure(
        await runCli(['verify', source, address, '--receipt', file, '--url', NO_SERVER], offline),
        1,
        'usage',
      );
    });

    it('offline, a receipt of another size than the one remembered is accepted with a warning that consistency was not checked', async () => {
      const { source, address } = await push();
      const { file } = await saveReceipt(address);
      await push();
      // The memory moves past the receipt's checkpoint.
      expectDone(await runCli(['pull', address, join(work, 'moved-on'), '--log-key', logKey], online));
      const run = await runCli(
        ['verify', source, address, '--receipt', file, '--log-key', logKey, '--url', NO_SERVER],
        {
          XDG_STATE_HOME: stateHome,
        },
      );
      expectDone(run);
      expect(run.stderr).toMatch(
        /^artifactstore: the log \S+ shows size \d+ here .* consistency was not checked/m,
      );
    });

    it('a log that does not extend the checkpoint remembered is exit 4, log_inconsistent, naming both sizes', async () => {
      const { address } = await push();
      expectDone(await runCli(['pull', address, join(work, 'before-rewrite'), '--log-key', logKey], online));
      const [file] = await memoryFiles();
      const remembered = JSON.parse(await readFile(file ?? '', 'utf8')) as {
        size: number;
        checkpoint: string;
      };

      // The same size, another root: the log was rewritten since.
      await writeFile(
        file ?? '',
        JSON.stringify({ ...remembered, checkpoint: await forgedCheckpoint(remembered.size) }),
      );
      const same = await runCli(['pull', address, join(work, 'after-rewrite'), '--log-key', logKey], online);
      expect(expectFailure(same, 4, 'log_inconsistent')).toContain(
        `the log at size ${remembered.size} does not extend the size ${remembered.size} it showed before`,
      );

      // A smaller size, another root: the log now shown does not extend it.
      const smaller = remembered.size - 2;
      await writeFile(file ?? '', JSON.stringify({ checkpoint: await forgedCheckpoint(smaller) }));
      const extended = await runCli(
        ['verify', join(work, 'before-rewrite'), address, '--log-key', logKey],
        online,
      );
      expect(expectFailure(extended, 4, 'log_inconsistent')).toContain(
        `the log at size ${remembered.size} does not extend the size ${smaller} it showed before`,
      );

      // The true checkpoint back: the log is consistent with it again.
      await writeFile(file ?? '', JSON.stringify(remembered));
      expectDone(
        await runCli(['verify', join(work, 'before-rewrite'), address, '--log-key', logKey], online),
      );
    });
  },
);
