import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { setImmediate } from 'node:timers/promises';
import { buffer } from 'node:stream/consumers';
import { blake3, toHex } from '@artifactstore/codec';
import type { BlobStore, IngestReceipt } from '@artifactstore/dataplane';
import {
  RegistryError,
  type FileRecord,
  type GcReport,
  type PackageRecord,
  type Registry,
} from '@artifactstore/registry';
import { openCore, type CoreContext } from '../support/core-context.js';
import {
  collectedEventsFor,
  filesOf,
  liveFileProblems,
  liveLocationsWithoutBlob,
  untilAWriteWaits,
} from '../support/gc-audit.js';
import { gcBackendsUnderTest } from '../support/gc-backends.js';
import { Gate, intercept, type Interception } from '../support/gc-gate.js';
import {
  gcRaceScale,
  gcRaceSeed,
  stressPlan,
  type StressPackage,
  type StressUpload,
} from '../support/gc-stress-plan.js';
import { seededRandom } from '../support/fault-scale.js';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';

const ADMIN = 'root';
const MEDIA = 'application/octet-stream';
const STRESS_UPLOADS = 200;
const STRESS_CONTENTS = 8;
/** Packages being filled (and finalized or deleted) at once in the stress test. */
const STRESS_CONCURRENCY = 8;

const cases = dialectsUnderTest().flatMap((dialect) =>
  gcBackendsUnderTest('gc-race').map((backend) => ({
    dialect,
    backend,
    label: `${dialect.dialect} + ${backend.name}`,
  })),
);

const STATUS_AFTER = { finalize: 'finalized', delete: 'deleted', stay: 'created' } as const;

const keyOf = (bytes: Buffer): string => toHex(blake3(bytes));
const sha256Of = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/**
 * The race the collector's design must win (ADR 0013): an upload deduplicates against blob K while the collector
 * decides to delete K. Whichever takes the append lock first wins, and no file is ever left without its bytes.
 */
describe.each(cases)('the collector racing uploads of the same bytes on $label', ({ dialect, backend }) => {
  let testDatabase: TestDatabase;
  let core: CoreContext;
  let registry: Registry;
  let store: BlobStore;
  let postgresUrl: string | undefined;
  const interceptions: Interception[] = [];

  const gc = (): Promise<GcReport> => registry.collectGarbage({ actor: ADMIN });

  beforeAll(async () => {
    testDatabase = await dialect.create({
      ...backend.overrides,
      ARTIFACTSTORE_GC_GRACE_SECONDS: '0',
      ARTIFACTSTORE_GC_INTERVAL_SECONDS: '0',
    });
    const target = testDatabase.config.database;
    postgresUrl = target.dialect === 'postgres' ? target.url : undefined;
    core = await openCore(testDatabase.config);
    registry = core.registry;
    store = core.blobStore;
  });

  afterEach(() => {
    for (const interception of interceptions.splice(0).reverse()) interception.restore();
  });

  afterAll(async () => {
    await core.app.close();
    await testDatabase.dispose();
  });

  const create = (): Promise<PackageRecord> =>
    registry.createPackage(
      {
        name: `race-${randomBytes(4).toString('hex')}`,
        producer: 'ci',
        subject: 'git:1',
        retention_class: 'permanent',
      },
      'ci',
    );

  /** A package that held `bytes` and was deleted: with a grace of 0, its blob is the collector's at once. */
  const deadBlob = async (bytes: Buffer): Promise<string> => {
    const pkg = await create();
    await registry.ingestFile(pkg.id, 'dead.bin', MEDIA, Readable.from([bytes]), 'ci');
    await registry.finalizePackage(pkg.id, 'ci');
    await registry.deletePackage(pkg.id, '', ADMIN, 'any');
    const key = keyOf(bytes);
    expect(await store.exists(key)).toBe(true);
    return key;
  };

  const stage = (pkg: PackageRecord, bytes: Buffer): Promise<IngestReceipt> =>
    registry.stageFile(pkg.id, Readable.from([bytes]));

  const attach = (pkg: PackageRecord, staged: IngestReceipt, path = 'k.bin'): Promise<FileRecord> =>
    registry.attachFile(pkg.id, path, MEDIA, staged, 'ci');

  const download = async (file: FileRecord): Promise<Buffer> => buffer(await registry.openFile(file));

  /** Records what every `ensureStored` answered: true when it put a blob back. */
  const recordEnsures = (): boolean[] => {
    const answers: boolean[] = [];
    interceptions.push(
      intercept(store, 'ensureStored', (original) => async (receipt) => {
        const answer = await original(receipt);
        answers.push(answer);
        return answer;
      }),
    );
    return answers;
  };

  describe('interleaving A, collector first: the blob is collected, then the commit stores it again', () => {
    it('for a blob of a deleted package that the upload deduplicated against', async () => {
      const bytes = randomBytes(5000);
      const key = await deadBlob(bytes);
      const pkg = await create();
      const staged = await stage(pkg, bytes); // ingest done: dedup found K in storage
      expect(staged.key).toBe(key);
      const since = await registry.headSequence();

      const report = await gc();
      expect(report.collected.blobs).toBeGreaterThanOrEqual(1);
      expect(await store.exists(key)).toBe(false);
      expect(await collectedEventsFor(registry, key, since)).toHaveLength(1);

      const ensured = recordEnsures();
      const file = await attach(pkg, staged);
      expect(ensured).toEqual([true]);
      expect(await store.exists(key)).toBe(true);
      expect(await download(file)).toEqual(bytes);

      // The file is live now: the next run keeps its blob.
      const committed = await registry.headSequence();
      await gc();
      expect(await store.exists(key)).toBe(true);
      expect(await collectedEventsFor(registry, key, committed)).toEqual([]);
      expect(await download(file)).toEqual(bytes);
    });

    it('for a blob the upload stored itself, collected as an orphan before the commit', async () => {
      const bytes = randomBytes(3000);
      const key = keyOf(bytes);
      const pkg = await create();
      const staged = await stage(pkg, bytes); // fresh bytes: stored, but no storage location names them yet
      expect(await store.exists(key)).toBe(true);
      const since = await registry.headSequence();

      await gc();
      expect(await store.exists(key)).toBe(false);
      expect(await collectedEventsFor(registry, key, since)).toHaveLength(1);

      const file = await attach(pkg, staged);
      expect(await store.exists(key)).toBe(true);
      expect(await download(file)).toEqual(bytes);
    });
  });

  it('interleaving B, upload first: the commit comes before the run, and the run keeps the blob', async () => {
    const bytes = randomBytes(4000);
    const key = await deadBlob(bytes);
    const pkg = await create();
    const staged = await stage(pkg, bytes);
    const ensured = recordEnsures();
    const file = await attach(pkg, staged);
    expect(ensured).toEqual([false]); // K was there: nothing to put back
    const committed = await registry.headSequence();

    await gc();
    expect(await store.exists(key)).toBe(true);
    expect(await collectedEventsFor(registry, key, committed)).toEqual([]);
    expect(await download(file)).toEqual(bytes);
  });

  describe('interleaving C, both at once', () => {
    it('a commit that comes while the collector deletes K waits for the lock, then puts K back', async () => {
      const bytes = randomBytes(6000);
      const key = await deadBlob(bytes);
      const pkg = await create();
      const staged = await stage(pkg, bytes);
      const since = await registry.headSequence();

      const gate = new Gate<[string]>((deleting) => deleting === key);
      interceptions.push(
        intercept(store, 'delete', (original) => async (deleting) => {
          await gate.pass(deleting);
          return original(deleting);
        }),
      );
      const ensured = recordEnsures();

      const collecting = gc();
      await gate.arrived; // the collector decided K goes, under the append lock, and is deleting it
      const attaching = attach(pkg, staged);
      await untilAWriteWaits(core, postgresUrl); // the commit queues for the lock the collector holds
      expect(ensured).toEqual([]); // so it has not reached its check of the blob
      expect(await collectedEventsFor(registry, key, since)).toEqual([]);

      gate.release();
      const [report, file] = await Promise.all([collecting, attaching]);
      expect(report.collected.blobs).toBeGreaterThanOrEqual(1);
      const collected = await collectedEventsFor(registry, key, since);
      expect(collected).toHaveLength(1);
      expect(ensured).toEqual([true]); // the commit found K gone and stored it again from its staging copy
      expect(await store.exists(key)).toBe(true);
      expect((await registry.findFile(file.id)).blake3).toBe(key);
      expect(await download(file)).toEqual(bytes);
    });

    it('a run that starts while a commit holds the lock waits for it, then sees the new file and keeps K', async () => {
      const bytes = randomBytes(7000);
      const key = await deadBlob(bytes);
      const pkg = await create();
      const staged = await stage(pkg, bytes);
      const since = await registry.headSequence();

      const gate = new Gate<[IngestReceipt]>((receipt) => receipt.key === key);
      interceptions.push(
        intercept(store, 'ensureStored', (original) => async (receipt) => {
          await gate.pass(receipt);
          return original(receipt);
        }),
      );
      const deleted: string[] = [];
      interceptions.push(
        intercept(store, 'delete', (original) => async (deleting) => {
          deleted.push(deleting);
          return original(deleting);
        }),
      );

      const attaching = attach(pkg, staged);
      await gate.arrived; // the commit holds the append lock and is checking its blob
      const collecting = gc();
      await untilAWriteWaits(core, postgresUrl); // the run queues for the lock
      expect(deleted).toEqual([]);

      gate.release();
      const [file, report] = await Promise.all([attaching, collecting]);
      expect(report.dry_run).toBe(false);
      expect(deleted).not.toContain(key);
      expect(await store.exists(key)).toBe(true);
      expect(await collectedEventsFor(registry, key, since)).toEqual([]);
      expect(await download(file)).toEqual(bytes);
    });
  });

  it('survives many uploads of a few contents into packages finalized and deleted meanwhile, with runs back to back', async () => {
    const seed = gcRaceSeed(`gc race stress on ${dialect.dialect} + ${backend.name}`);
    const random = seededRandom(seed);
    const uploads = Math.max(1, Math.round(STRESS_UPLOADS * gcRaceScale()));
    const plan = stressPlan(seed, uploads, STRESS_CONTENTS);
    const pool = Array.from({ length: STRESS_CONTENTS }, () =>
      randomBytes(1 + Math.floor(random() * 64 * 1024)),
    );
    const expected = new Map(pool.map((bytes) => [sha256Of(bytes), bytes]));
    const fail = (what: string): string => `${what} (GC_RACE_SEED=${seed})`;

    // Every content starts as a dead blob, so the first runs race the first uploads for all of them.
    for (const bytes of pool) await deadBlob(bytes);
    const packages = await Promise.all(plan.map(() => create()));
    const ensured = recordEnsures();

    const acknowledged: FileRecord[] = [];
    let refused = 0;
    const unexpected: string[] = [];
    const upload = async (pkg: PackageRecord, file: StressUpload): Promise<void> => {
      const bytes = pool[file.content] as Buffer;
      try {
        if (file.split) {
          const staged = await registry.stageFile(pkg.id, Readable.from([bytes]));
          await setImmediate(); // a turn for the collector between the dedup and the commit
          acknowledged.push(await registry.attachFile(pkg.id, file.path, MEDIA, staged, 'ci'));
        } else {
          acknowledged.push(
            await registry.ingestFile(pkg.id, file.path, MEDIA, Readable.from([bytes]), 'ci'),
          );
        }
      } catch (error) {
        // An upload into a package finalized or deleted meanwhile is refused; nothing else may fail.
        if (error instanceof RegistryError && error.code === 'illegal_package_state') refused++;
        else unexpected.push(`upload ${JSON.stringify(file)} into ${pkg.id}: ${String(error)}`);
      }
    };
    /** A package's uploads all at once, and its fate once `fateAfter` of them have finished. */
    const runPackage = async (pkg: PackageRecord, planned: StressPackage): Promise<void> => {
      let finished = 0;
      let fateDue!: () => void;
      const fateTurn = new Promise<void>((resolve) => (fateDue = resolve));
      if (planned.fateAfter === 0) fateDue();
      const uploads = planned.uploads.map((file) =>
        upload(pkg, file).finally(() => {
          if (++finished === planned.fateAfter) fateDue();
        }),
      );
      const fate = fateTurn.then(async () => {
        try {
          if (planned.fate === 'finalize') await registry.finalizePackage(pkg.id, 'ci');
          if (planned.fate === 'delete') await registry.deletePackage(pkg.id, '', ADMIN, 'any');
        } catch (error) {
          unexpected.push(`${planned.fate} ${pkg.id}: ${String(error)}`);
        }
      });
      await Promise.all([...uploads, fate]);
    };

    // An object, not a let: the loop below reads it after awaits that the linter cannot see change it.
    const progress = { uploading: true };
    const reports: GcReport[] = [];
    const collecting = (async () => {
      do reports.push(await gc());
      while (progress.uploading);
    })().then(
      () => undefined,
      (error: unknown) => error,
    );
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < plan.length) {
        const index = next++;
        await runPackage(packages[index] as PackageRecord, plan[index] as StressPackage);
      }
    };
    try {
      await Promise.all(Array.from({ length: STRESS_CONCURRENCY }, worker));
    } finally {
      progress.uploading = false;
    }
    const collectorError = await collecting;
    const collectedBlobs = reports.reduce((sum, report) => sum + report.collected.blobs, 0);
    console.log(
      `gc race stress on ${dialect.dialect} + ${backend.name} (GC_RACE_SEED=${seed}): ${uploads} uploads, ` +
        `${acknowledged.length} committed, ${refused} refused; ` +
        `${reports.length} runs collected ${collectedBlobs} blobs; ` +
        `${ensured.filter(Boolean).length} commits put a collected blob back`,
    );
    expect({ collectorError, unexpected }).toEqual({ collectorError: undefined, unexpected: [] });

    const audit = async (): Promise<void> => {
      // Every committed file of a package still live is there, whole; only deleted packages are not live.
      const livePackages = new Set<string>();
      const liveFiles = new Set<string>();
      for (const [index, pkg] of packages.entries()) {
        const status = (await registry.getPackage(pkg.id)).status;
        const fate = plan[index]?.fate ?? 'stay';
        expect(`${pkg.id} ${status}`).toBe(`${pkg.id} ${STATUS_AFTER[fate]}`);
        if (status === 'deleted') continue;
        livePackages.add(pkg.id);
        for (const file of await filesOf(registry, pkg.id)) liveFiles.add(file.id);
      }
      const lost = acknowledged.filter(
        (file) => livePackages.has(file.package_id) && !liveFiles.has(file.id),
      );
      expect(lost.map((file) => `${file.package_id}/${file.relative_path}`)).toEqual([]);
      const { files, problems } = await liveFileProblems(registry, expected);
      expect(files).toBeGreaterThan(0);
      expect(problems).toEqual([]);
      expect(await liveLocationsWithoutBlob(core)).toEqual([]);
      expect((await registry.verifyChain()).ok).toBe(true);
      const replay = await registry.replayViews();
      expect(replay.state_digest_after).toBe(replay.state_digest_before);
    };
    try {
      await audit();
      // One more run with nothing racing it changes none of that.
      await gc();
      await audit();
    } catch (error) {
      console.error(fail('the stress audit failed'));
      throw error;
    }
  }, 120_000);
});
