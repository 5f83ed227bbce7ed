import { createHash, randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setImmediate } from 'node:timers/promises';
import { blake3, toHex } from '@artifactstore/codec';
import { adminJobResult } from '../support/admin-jobs.js';
import { faultSeed, scaled, seededRandom } from '../support/fault-scale.js';
import { ServerChild } from '../support/server-child.js';
import { NoAnswer, StoreClient, type Reply } from '../support/store-client.js';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';

/** Packages uploaded per dialect at FAULTS_SCALE=1; half of them are deleted, a slice before each round. */
const PACKAGES = 300;
/** Collector runs cut short by SIGKILL per dialect at FAULTS_SCALE=1. */
const ROUNDS = 5;
/** Requests in flight at once while uploading and deleting. */
const CONCURRENCY = 8;
/** Every this-many deleted packages shares its bytes with a live one: the collector must keep that blob. */
const SHARE_EVERY = 10;

interface Planted {
  readonly id: string;
  readonly bytes: Buffer;
  readonly key: string;
  readonly sha256: string;
}

const JSON_HEADERS = { 'Content-Type': 'application/json' };

/** Runs `work` on every item, at most `limit` at once. */
async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** The reply, or the NoAnswer the kill made of it. */
async function answerOrNone(call: Promise<Reply>): Promise<Reply | NoAnswer> {
  try {
    return await call;
  } catch (error) {
    if (error instanceof NoAnswer) return error;
    throw error;
  }
}

function expectStatus(reply: Reply, status: number, what: string): void {
  if (reply.status !== status) {
    throw new Error(
      `${what}: expected ${status}, got ${reply.status} ${reply.body.toString().slice(0, 500)}`,
    );
  }
}

describe.each(dialectsUnderTest())(
  'the built server SIGKILLed while it collects garbage, on $dialect',
  (dialectUnderTest) => {
    let testDatabase: TestDatabase | undefined;
    let server: ServerChild | undefined;

    beforeAll(async () => {
      testDatabase = await dialectUnderTest.create();
      const target = testDatabase.config.database;
      server = await ServerChild.start({
        dataDir: testDatabase.config.dataDir,
        ...(target.dialect === 'postgres' ? { databaseUrl: target.url } : {}),
        env: { ARTIFACTSTORE_GC_GRACE_SECONDS: '0', ARTIFACTSTORE_GC_INTERVAL_SECONDS: '0' },
      });
    });

    afterAll(async () => {
      await server?.stop();
      await testDatabase?.dispose();
    });

    it('keeps every live file byte-exact, verifies, replays identically, and in the end collects every dead blob', async () => {
      const running = server!;
      const dataDir = testDatabase!.config.dataDir;
      const client = new StoreClient(running.url);
      const random = seededRandom(faultSeed(`gc crash on ${dialectUnderTest.dialect}`));
      const blobPath = (key: string): string => join(dataDir, 'blobs', key.slice(0, 2), key.slice(2, 4), key);
      const stored = (key: string): Promise<boolean> =>
        stat(blobPath(key)).then(
          () => true,
          () => false,
        );

      const createPackage = async (name: string): Promise<string> => {
        const body = { name, producer: 'faults', subject: 'gc', retention_class: 'standard' };
        const created = await client.call('POST', '/v1/packages', {
          headers: JSON_HEADERS,
          body: Buffer.from(JSON.stringify(body)),
        });
        expectStatus(created, 201, 'create');
        const id = StoreClient.json<{ id?: string }>(created)?.id;
        if (id === undefined) throw new Error('create answered no id');
        return id;
      };
      const put = (id: string, path: string, bytes: Buffer): Promise<Reply> =>
        client.call('PUT', `/v1/packages/${id}/files/${path}`, {
          headers: { 'Content-Type': 'application/octet-stream' },
          body: bytes,
        });

      // 300 finalized packages of one file each; every SHARE_EVERY-th one to be deleted holds the bytes of a live one.
      const count = scaled(PACKAGES);
      const order = Array.from({ length: count }, (_, index) => ({ index, roll: random() }))
        .sort((a, b) => a.roll - b.roll)
        .map((entry) => entry.index);
      const doomedIndexes = new Set(order.slice(0, Math.floor(count / 2)));
      const liveIndexes = order.slice(Math.floor(count / 2));
      const contents: Buffer[] = Array.from({ length: count }, () =>
        randomBytes(1 + Math.floor(random() * 16 * 1024)),
      );
      [...doomedIndexes].forEach((index, nth) => {
        const shared = liveIndexes[nth % liveIndexes.length];
        if (nth % SHARE_EVERY === 0 && shared !== undefined) contents[index] = contents[shared] as Buffer;
      });
      const planted: Planted[] = new Array<Planted>(count);
      await forEachLimited([...contents.keys()], CONCURRENCY, async (index) => {
        const bytes = contents[index] as Buffer;
        const id = await createPackage(`gc-crash-${index}`);
        expectStatus(await put(id, 'f.bin', bytes), 201, 'upload');
        expectStatus(await client.call('POST', `/v1/packages/${id}/finalize`), 200, 'finalize');
        planted[index] = {
          id,
          bytes,
          key: toHex(blake3(bytes)),
          sha256: createHash('sha256').update(bytes).digest('hex'),
        };
      });
      const live = liveIndexes.map((index) => planted[index] as Planted);
      const doomed = [...doomedIndexes].map((index) => planted[index] as Planted);
      const liveKeys = new Set(live.map((pkg) => pkg.key));
      /** Files a racing client got a 201 for during the rounds: live, so they must survive too. */
      const raced: { id: string; path: string; sha256: string; key: string }[] = [];
      /** Racing uploads the kill left unanswered: each landed whole or not at all, and the end tells which. */
      const unanswered: { id: string; path: string; sha256: string; key: string }[] = [];

      const rounds = scaled(ROUNDS);
      let killedMidRun = 0;
      for (let round = 0; round < rounds; round++) {
        const slice = doomed.slice(
          Math.floor((round * doomed.length) / rounds),
          Math.floor(((round + 1) * doomed.length) / rounds),
        );
        await forEachLimited(slice, CONCURRENCY, async (pkg) => {
          expectStatus(await client.call('DELETE', `/v1/packages/${pkg.id}`), 200, 'delete');
        });
        const dying = [...new Set(slice.map((pkg) => pkg.key))].filter((key) => !liveKeys.has(key));
        // Kill once this many of the round's dead blobs are gone (0: at once), unless the run finishes first.
        const killAfter = Math.floor(random() * dying.length);
        const racer = await createPackage(`gc-crash-racer-${round}`);

        const collecting = answerOrNone(
          client.call('POST', '/v1/admin/gc', { headers: JSON_HEADERS, body: Buffer.from('{}') }),
        );
        // An object, not a let: the loops below read it after awaits that the linter cannot see change it.
        const run = { answered: false };
        void collecting.then(() => (run.answered = true));
        // Meanwhile a client uploads the very bytes being collected, one file after another.
        const racing = (async () => {
          for (let nth = 0; nth < slice.length && !run.answered && running.alive(); nth++) {
            const pkg = slice[nth] as Planted;
            const path = `r-${nth}.bin`;
            const reply = await answerOrNone(put(racer, path, pkg.bytes));
            if (reply instanceof NoAnswer) {
              unanswered.push({ id: racer, path, sha256: pkg.sha256, key: pkg.key });
              return;
            }
            expectStatus(reply, 201, 'racing upload');
            raced.push({ id: racer, path, sha256: pkg.sha256, key: pkg.key });
            liveKeys.add(pkg.key);
          }
        })().then(
          () => undefined,
          (error: unknown) => error,
        );
        for (;;) {
          if (run.answered) break;
          let gone = 0;
          for (const key of dying) if (!(await stored(key))) gone++;
          if (gone >= killAfter) break;
          await setImmediate();
        }
        if (!run.answered) await running.kill('SIGKILL');
        const answer = await collecting;
        if (answer instanceof NoAnswer) killedMidRun++;
        expect(await racing).toBeUndefined();
        console.log(
          `gc crash on ${dialectUnderTest.dialect}, round ${round}: ${dying.length} dead blobs, kill after ` +
            `${killAfter} gone: ${answer instanceof NoAnswer ? 'killed mid-run' : `run finished first (${answer.status})`}`,
        );
        if (!(answer instanceof NoAnswer)) expectStatus(answer, 200, 'gc');
        if (!running.alive()) await running.restart();
      }

      // A run to completion collects whatever the killed runs left.
      expectStatus(
        await client.call('POST', '/v1/admin/gc', { headers: JSON_HEADERS, body: Buffer.from('{}') }),
        200,
        'final gc',
      );

      const problems: string[] = [];
      // An unanswered upload that committed is as live as an acknowledged one; one that did not left nothing.
      let landedUnanswered = 0;
      for (const file of unanswered) {
        const reply = await client.call('GET', `/v1/packages/${file.id}/files/${file.path}`, { hash: true });
        if (reply.status === 404) continue;
        landedUnanswered++;
        raced.push(file);
        liveKeys.add(file.key);
      }
      const files = [...live.map((pkg) => ({ id: pkg.id, path: 'f.bin', sha256: pkg.sha256 })), ...raced];
      for (const file of files) {
        const reply = await client.call('GET', `/v1/packages/${file.id}/files/${file.path}`, { hash: true });
        if (reply.status !== 200 || reply.sha256 !== file.sha256) {
          problems.push(
            `${file.id}/${file.path}: ${reply.status} sha256 ${reply.sha256 ?? reply.body.toString()}`,
          );
        }
      }
      expect(problems).toEqual([]);
      expect(await adminJobResult(client.url, 'verify')).toMatchObject({ ok: true });
      expect(await adminJobResult(client.url, 'replay')).toMatchObject({ identical: true });
      const lingering: string[] = [];
      for (const pkg of doomed) {
        if (!liveKeys.has(pkg.key) && (await stored(pkg.key))) lingering.push(`${pkg.id}: ${pkg.key}`);
      }
      expect(lingering).toEqual([]);
      const missing: string[] = [];
      for (const key of liveKeys) if (!(await stored(key))) missing.push(key);
      expect(missing).toEqual([]);

      console.log(
        `gc crash on ${dialectUnderTest.dialect}: ${killedMidRun} of ${rounds} runs killed mid-run, ` +
          `${raced.length - landedUnanswered} racing uploads acknowledged, ${landedUnanswered} of ` +
          `${unanswered.length} unanswered ones landed`,
      );
      // The run did what it is for: kills landed while the collector was deleting.
      expect(killedMidRun).toBeGreaterThan(0);
      expect(running.unexpectedExits).toEqual([]);
      expect(running.errorLines()).toEqual([]);
    });
  },
);
