import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { faultSeed, scaled, seededRandom } from '../support/fault-scale.js';
import { ServerChild } from '../support/server-child.js';
import { StoreClient } from '../support/store-client.js';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';
import { runUploadClients } from '../support/upload-clients.js';
import { logBadAnswers, UploadLedger } from '../support/upload-ledger.js';

/** Kills per dialect at FAULTS_SCALE=1. */
const KILLS = 6;
const CLIENTS = 3;

/** A gauge of /metrics, once its scan has finished after `since` (ms since the epoch); undefined if it never did. */
async function unreferencedBlobsAfter(client: StoreClient, since: number): Promise<number | undefined> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const text = (await client.call('GET', '/metrics')).body.toString();
    const gauge = (name: string): number =>
      Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    if (gauge('artifactstore_unreferenced_blobs_scan_timestamp_seconds') * 1000 >= since) {
      return gauge('artifactstore_unreferenced_blobs');
    }
    await sleep(100);
  }
  return undefined;
}

describe.each(dialectsUnderTest())(
  'the built server SIGKILLed at random moments under load, on $dialect',
  (dialectUnderTest) => {
    let testDatabase: TestDatabase | undefined;
    let server: ServerChild | undefined;

    beforeAll(async () => {
      testDatabase = await dialectUnderTest.create();
      const target = testDatabase.config.database;
      server = await ServerChild.start({
        dataDir: testDatabase.config.dataDir,
        ...(target.dialect === 'postgres' ? { databaseUrl: target.url } : {}),
      });
    });

    afterAll(async () => {
      await server?.stop();
      await testDatabase?.dispose();
    });

    it('keeps every acknowledged file byte-exact, shows no package half-made, verifies the chain and replays identically', async () => {
      const running = server!;
      const random = seededRandom(faultSeed(`crash loop on ${dialectUnderTest.dialect}`));
      const ledger = new UploadLedger();
      const stop = new AbortController();
      const clients = runUploadClients({
        url: running.url,
        ledger,
        clients: CLIENTS,
        until: stop.signal,
        random,
      });
      const kills = scaled(KILLS);
      try {
        for (let kill = 0; kill < kills; kill++) {
          await sleep(400 + random() * 1600);
          await running.kill('SIGKILL');
          await sleep(random() * 300);
          await running.restart();
        }
        // The clients finish a round on the last restart, so some work is acknowledged after every kill.
        await sleep(1500);
      } finally {
        stop.abort();
        await clients;
      }
      console.log(`crash loop on ${dialectUnderTest.dialect}, ${kills} kills: ${ledger.summary()}`);

      logBadAnswers(running, ledger);
      // The run did something: files were acknowledged, and kills cut requests off.
      expect(ledger.acknowledgedFiles().length).toBeGreaterThan(0);
      expect([...ledger.tally.keys()].some((key) => key.endsWith('no-answer'))).toBe(true);
      // Every answer was a success or an expected refusal (after a restart, no 500 from leftover state).
      expect(ledger.badAnswers).toEqual([]);
      expect(await ledger.check(new StoreClient(running.url))).toEqual([]);
      expect(running.unexpectedExits).toEqual([]);
      expect(running.errorLines()).toEqual([]);

      // Crash leftovers: with no client left, a restart removes every temporary file of the killed processes, and
      // the only blobs no file refers to are those of uploads that never got an answer (stored, then killed before
      // the commit).
      await running.stop();
      const restartedAt = Date.now();
      await running.restart();
      expect(await readdir(join(testDatabase!.config.dataDir, 'blobs', 'tmp'))).toEqual([]);
      const unreferenced = await unreferencedBlobsAfter(new StoreClient(running.url), restartedAt);
      console.log(
        `crash loop on ${dialectUnderTest.dialect}: ${unreferenced} unreferenced blobs after ` +
          `${ledger.filesWith('unknown')} unanswered uploads`,
      );
      expect(unreferenced).toBeLessThanOrEqual(ledger.filesWith('unknown'));
    });
  },
);
