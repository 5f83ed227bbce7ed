import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import pg from 'pg';
import { buffer } from 'node:stream/consumers';
import { blake3, toHex } from '@artifactstore/codec';
import { Clock } from '@artifactstore/config';
import type { BlobStore } from '@artifactstore/dataplane';
import {
  CollectorBusyError,
  DeletionForbiddenError,
  IllegalPackageStateError,
  PackageGoneError,
  PackageHeldError,
  UnknownRetentionClassError,
  type CreatePackageInput,
  type GcReport,
  type PackageRecord,
  type Registry,
} from '@artifactstore/registry';
import { stateDigest } from '@artifactstore/views';
import { openCore, type CoreContext } from '../support/core-context.js';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';
import { gcBackendsUnderTest } from '../support/gc-backends.js';

const DAY_MS = 86_400_000;
const ADMIN = 'root';

const cases = dialectsUnderTest().flatMap((dialect) =>
  gcBackendsUnderTest('gc').map((backend) => ({
    dialect,
    backend,
    label: `${dialect.dialect} + ${backend.name}`,
  })),
);

describe.each(cases)('garbage collection on $label', ({ dialect, backend }) => {
  let testDatabase: TestDatabase;
  let core: CoreContext;
  let registry: Registry;
  let store: BlobStore;
  let clock: Clock;
  let offsetMs = 0;

  /** Moves the clock the collector reads; events keep the real time. */
  const advance = (ms: number): void => {
    offsetMs += ms;
  };
  const gc = (dryRun = false): Promise<GcReport> => registry.collectGarbage({ dryRun, actor: ADMIN });

  beforeAll(async () => {
    testDatabase = await dialect.create({
      ...backend.overrides,
      ARTIFACTSTORE_GC_GRACE_SECONDS: '3600',
      ARTIFACTSTORE_KEEP_LATEST_PER_NAME: '1',
      ARTIFACTSTORE_GC_INTERVAL_SECONDS: '0',
    });
    core = await openCore(testDatabase.config);
    registry = core.registry;
    store = core.blobStore;
    clock = core.app.get(Clock);
    clock.now = () => Date.now() + offsetMs;
  });

  afterAll(async () => {
    await core.app.close();
    await testDatabase.dispose();
  });

  const create = (overrides: Partial<CreatePackageInput> = {}): Promise<PackageRecord> =>
    registry.createPackage(
      {
        name: `app-${randomBytes(4).toString('hex')}`,
        producer: 'ci',
        subject: 'git:1',
        retention_class: 'ephemeral',
        ...overrides,
      },
      'ci',
    );

  const upload = async (pkg: PackageRecord, path: string, bytes: Buffer): Promise<void> => {
    await registry.ingestFile(pkg.id, path, 'application/octet-stream', Readable.from([bytes]), 'ci');
  };

  /** A finalized package with one file of `bytes`. */
  const finalized = async (
    bytes: Buffer,
    overrides: Partial<CreatePackageInput> = {},
  ): Promise<PackageRecord> => {
    const pkg = await create(overrides);
    await upload(pkg, 'f.bin', bytes);
    await registry.finalizePackage(pkg.id, 'ci');
    return registry.getPackage(pkg.id);
  };

  const stored = (bytes: Buffer): Promise<boolean> => store.exists(toHex(blake3(bytes)));

  it('expires a finalized package after its class ttl, keeps its metadata and manifest, answers package_gone for its files, and collects its blob after the grace', async () => {
    const bytes = randomBytes(3000);
    const name = `expiring-${randomBytes(4).toString('hex')}`;
    const old = await finalized(bytes, { name });
    await finalized(randomBytes(100), { name }); // the newest of the name: kept
    expect(old.expires_at).not.toBeNull();

    const early = await gc();
    expect(early.expired.map((entry) => entry.id)).not.toContain(old.id);

    advance(8 * DAY_MS);
    const dry = await gc(true);
    expect(dry.dry_run).toBe(true);
    expect(dry.expired).toContainEqual({ id: old.id, reason: 'retention' });
    expect((await registry.getPackage(old.id)).status).toBe('finalized');

    const report = await gc();
    expect(report.expired).toContainEqual({ id: old.id, reason: 'retention' });
    expect(report.kept.latest).toBeGreaterThanOrEqual(1);
    const after = await registry.getPackage(old.id);
    expect(after).toMatchObject({ status: 'expired', removal_reason: 'retention' });
    expect(after.removed_at).not.toBeNull();
    // Expired now, collected only once the grace has passed.
    expect(await stored(bytes)).toBe(true);
    const manifest = await registry.getManifestBytes(old.id, 'json');
    expect(manifest.content_address).toBe(old.content_address);
    const file = await registry.findFileByPath(old.id, 'f.bin');
    await expect(registry.openFile(file)).rejects.toBeInstanceOf(PackageGoneError);

    advance(2 * 3600_000);
    const collected = await gc();
    expect(collected.collected.blobs).toBeGreaterThanOrEqual(1);
    expect(await stored(bytes)).toBe(false);
    // Still resolvable by content address.
    expect((await registry.resolveContentAddress(old.content_address ?? '')).id).toBe(old.id);
  });

  it('keeps a blob that a live package shares with an expired one', async () => {
    const shared = randomBytes(2000);
    const expiring = await finalized(shared);
    const live = await finalized(shared, { retention_class: 'permanent' });
    await registry.deletePackage(expiring.id, 'mistake', ADMIN, 'any');
    advance(2 * 3600_000);
    await gc();
    expect(await stored(shared)).toBe(true);
    const file = await registry.findFileByPath(live.id, 'f.bin');
    expect(await buffer(await registry.openFile(file))).toEqual(shared);
  });

  it('never expires a held package, refuses to delete it, and lets it go once released', async () => {
    const pkg = await finalized(randomBytes(500));
    await finalized(randomBytes(10), { name: pkg.name }); // so that keep-latest does not keep pkg
    const held = await registry.holdPackage(pkg.id, 'legal', ADMIN);
    expect(held).toMatchObject({ held: true, hold_reason: 'legal', expires_at: null });
    await expect(registry.deletePackage(pkg.id, '', ADMIN, 'any')).rejects.toBeInstanceOf(PackageHeldError);
    advance(30 * DAY_MS);
    const report = await gc();
    expect(report.expired.map((entry) => entry.id)).not.toContain(pkg.id);
    expect(report.kept.held).toBeGreaterThanOrEqual(1);
    const released = await registry.releasePackage(pkg.id, ADMIN);
    expect(released.held).toBe(false);
    expect(released.expires_at).not.toBeNull();
    expect((await gc()).expired).toContainEqual({ id: pkg.id, reason: 'retention' });
    await expect(registry.holdPackage(pkg.id, '', ADMIN)).rejects.toBeInstanceOf(IllegalPackageStateError);
  });

  it('never expires a tagged package by retention, and lets it go once the tag moves on', async () => {
    const name = `tagged-${randomBytes(4).toString('hex')}`;
    const old = await finalized(randomBytes(300), { name });
    const newer = await finalized(randomBytes(300), { name });
    const newest = await finalized(randomBytes(300), { name });
    await registry.moveTag(name, 'stable', old.id, ADMIN);
    advance(8 * DAY_MS);
    const report = await gc();
    expect(report.expired.map((entry) => entry.id)).not.toContain(old.id);
    expect(report.expired).toContainEqual({ id: newer.id, reason: 'retention' });
    expect(report.kept.tagged).toBeGreaterThanOrEqual(1);
    await registry.moveTag(name, 'stable', newest.id, ADMIN);
    expect((await gc()).expired).toContainEqual({ id: old.id, reason: 'retention' });
    expect((await registry.getPackage(newest.id)).status).toBe('finalized');
  });

  it('expires a package left created past the abandonment deadline', async () => {
    const pkg = await create();
    await upload(pkg, 'half.bin', randomBytes(100));
    advance(25 * 3600_000);
    expect((await gc()).expired).toContainEqual({ id: pkg.id, reason: 'abandoned' });
    await expect(upload(pkg, 'more.bin', randomBytes(10))).rejects.toBeInstanceOf(IllegalPackageStateError);
    await expect(registry.finalizePackage(pkg.id, 'ci')).rejects.toBeInstanceOf(IllegalPackageStateError);
  });

  it('lets a producer abort only a created package, and an admin delete any', async () => {
    const open = await create();
    const done = await finalized(randomBytes(10));
    await expect(registry.deletePackage(done.id, '', 'ci', 'created')).rejects.toBeInstanceOf(
      DeletionForbiddenError,
    );
    expect((await registry.deletePackage(open.id, 'aborted', 'ci', 'created')).status).toBe('deleted');
    expect((await registry.deletePackage(done.id, '', ADMIN, 'any')).removal_reason).toBe('');
    await expect(registry.deletePackage(done.id, '', ADMIN, 'any')).rejects.toBeInstanceOf(
      IllegalPackageStateError,
    );
  });

  it('changes the retention class and recomputes the expiry from the finalization', async () => {
    const pkg = await finalized(randomBytes(10));
    const kept = await registry.changeRetention(pkg.id, 'permanent', ADMIN);
    expect(kept).toMatchObject({ retention_class: 'permanent', expires_at: null });
    const standard = await registry.changeRetention(pkg.id, 'standard', ADMIN);
    expect(Date.parse(standard.expires_at ?? '') - Date.parse(pkg.finalized_at ?? '')).toBe(90 * DAY_MS);
    await expect(registry.changeRetention(pkg.id, 'forever', ADMIN)).rejects.toBeInstanceOf(
      UnknownRetentionClassError,
    );
  });

  it('collects orphans after the grace, and a later upload of the same bytes stores them again', async () => {
    // An orphan's age is its storage time, which the clock above does not move: start from the real time.
    offsetMs = 0;
    const bytes = randomBytes(4000);
    const pkg = await create({ retention_class: 'permanent' });
    const staged = await registry.stageFile(pkg.id, Readable.from([bytes]));
    await registry.discardStaged(staged); // a form that failed after its file: the blob is an orphan
    expect(await stored(bytes)).toBe(true);
    await gc();
    expect(await stored(bytes)).toBe(true); // younger than the grace
    advance(2 * 3600_000);
    expect((await gc(true)).collected.blobs).toBeGreaterThanOrEqual(1);
    expect(await stored(bytes)).toBe(true);
    await gc();
    expect(await stored(bytes)).toBe(false);
    await upload(pkg, 'again.bin', bytes);
    const file = await registry.findFileByPath(pkg.id, 'again.bin');
    expect(await buffer(await registry.openFile(file))).toEqual(bytes);
  });

  it('repairs a blob lost behind its back when the same bytes are uploaded again: a dedup asks the storage, not the views', async () => {
    const bytes = randomBytes(1500);
    const first = await finalized(bytes, { retention_class: 'permanent' });
    await store.delete(toHex(blake3(bytes)));
    const second = await create({ retention_class: 'permanent' });
    await upload(second, 'copy.bin', bytes);
    expect(await stored(bytes)).toBe(true);
    const file = await registry.findFileByPath(first.id, 'f.bin');
    expect(await buffer(await registry.openFile(file))).toEqual(bytes);
  });

  it('rebuilds identical views by replay after expiry, deletion, holds and collection, and the chain verifies', async () => {
    const before = await core.database.read((tx) => stateDigest(tx));
    const report = await registry.replayViews();
    expect(report.state_digest_before).toBe(toHex(before));
    expect(report.state_digest_after).toBe(report.state_digest_before);
    expect((await registry.verifyChain()).ok).toBe(true);
  });

  it('runs one collection at a time in a process, and on PostgreSQL skips while another process collects', async () => {
    const [a, b] = await Promise.all([gc(), gc()]);
    expect([a.dry_run, b.dry_run]).toEqual([false, false]);
    if (dialect.dialect !== 'postgres') return;
    const url = testDatabase.config.database.dialect === 'postgres' ? testDatabase.config.database.url : '';
    const other = new pg.Client({ connectionString: url });
    await other.connect();
    try {
      await other.query('SELECT pg_advisory_lock(7021802725)');
      await expect(gc()).rejects.toBeInstanceOf(CollectorBusyError);
      await other.query('SELECT pg_advisory_unlock(7021802725)');
      await expect(gc()).resolves.toMatchObject({ dry_run: false });
    } finally {
      await other.end();
    }
  });
});
