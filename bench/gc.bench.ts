import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { encodeCanonicalCbor, uuidv7 } from '@artifactstore/codec';
import { Clock } from '@artifactstore/config';
import type { IngestReceipt } from '@artifactstore/dataplane';
import type { Tx } from '@artifactstore/db';
import type { EventDraft } from '@artifactstore/events';
import { storageLocationId } from '@artifactstore/registry';
import {
  PACKAGE_EXPIRED,
  fileIngestedEvent,
  packageCreatedEvent,
  packageFinalizedEvent,
} from '@artifactstore/views';
import { openCore, type CoreContext } from '../test/support/core-context.js';
import { createScratchPostgres, createScratchSqlite } from '../test/support/scratch-database.js';
import { percentile, summarize, type LatencySummary } from './stats.js';

/** What the collector is run with: no timer, no grace (this run collects what it expires), no keep-latest. */
export const GC_BENCH_CONFIG = {
  ARTIFACTSTORE_GC_INTERVAL_SECONDS: '0',
  ARTIFACTSTORE_GC_GRACE_SECONDS: '0',
  ARTIFACTSTORE_KEEP_LATEST_PER_NAME: '0',
} as const;

export interface GcBenchOptions {
  /** Finalized packages in the store, 3 files each. */
  readonly packages: number;
  /** Uploads timed without the collector; the loop during the run goes on until the run ends. */
  readonly uploads: number;
}

export interface GcBenchResult {
  readonly packages: number;
  readonly expiring: number;
  /** Distinct blobs in storage before the run: the live pool and the blobs only expiring packages use. */
  readonly storedBlobs: number;
  /** Of them, used by expiring packages only: what the run should collect. */
  readonly exclusiveBlobs: number;
  readonly buildSeconds: number;
  readonly expired: number;
  readonly collected: number;
  readonly gcSeconds: number;
  /** From the start of the run to its last `v1.package.expired` append. */
  readonly expirySeconds: number;
  /** From there to the end of the run: the walk of removed packages, the deletes, the orphan walk. */
  readonly collectionSeconds: number;
  /** RSS after the build, just before the run, and the highest sample (every 100 ms) during the run, MiB. */
  readonly rssBeforeMiB: number;
  readonly rssPeakMiB: number;
  /** Storage locations left pointing at a blob that is no longer in storage: must be 0. */
  readonly danglingLocations: number;
  readonly without: LatencySummary;
  readonly during: LatencySummary;
  readonly duringExpiry: LatencySummary;
  readonly duringCollection: LatencySummary;
  /** Event-loop delay p99 / max (ms) while the uploads ran alone and during the run. */
  readonly loopDelayWithout: { readonly p99Ms: number; readonly maxMs: number };
  readonly loopDelayDuring: { readonly p99Ms: number; readonly maxMs: number };
  /** The collector's own write transactions (append lock held from start to commit) and read snapshots. */
  readonly collectorWrites: UnitSummary;
  readonly collectorReads: UnitSummary;
}

export interface UnitSummary {
  readonly count: number;
  /** From the unit's start (its lock taken) to its end, commit included. */
  readonly p50Ms: number;
  readonly maxMs: number;
  readonly totalSeconds: number;
}

const BLOB_BYTES = 1024;
const UPLOAD_BYTES = 64 * 1024;
const FILES_PER_UPLOAD_PACKAGE = 10;
const PACKAGES_PER_TRANSACTION = 200;
const INGEST_CONCURRENCY = 8;
const DAY_MS = 86_400_000;
const ACTOR = 'bench';

/**
 * The data set, from the package count N: N/10 packages expire (ephemeral, finalized 30 days ago), the rest are
 * live (standard, 90 days). Every package has 3 files of 1 KiB. Blobs: a live pool of N/10 blobs that the live
 * packages share (3 files each, round robin), and N/20 blobs only expiring packages use; each expiring package
 * has its files alternately in those two, so that half of the blobs expiring packages use (N/20 of N/10) are also
 * in live packages and half are theirs alone, and half of their files too.
 */
function layout(packages: number) {
  const expiring = Math.max(2, Math.floor(packages / 10));
  const exclusive = Math.max(1, Math.floor(expiring / 2));
  const livePool = Math.max(exclusive, expiring);
  return { expiring, exclusive, livePool };
}

/** The i-th package: expiring every 10th, so that both kinds are spread over the id order and the log. */
const isExpiring = (index: number, expiring: number): boolean => index % 10 === 0 && index / 10 < expiring;

/** Blob numbers: [0, livePool) the live pool, [livePool, livePool + exclusive) the expiring packages' own. */
function blobsOf(index: number, expiringIndex: number | undefined, pool: ReturnType<typeof layout>) {
  if (expiringIndex === undefined) {
    return [0, 1, 2].map((file) => (index * 3 + file) % pool.livePool);
  }
  // Files alternate own / shared across the expiring packages' 3n files; the shared ones are the first
  // `exclusive` blobs of the live pool, which live packages use too.
  return [0, 1, 2].map((file) => {
    const slot = expiringIndex * 3 + file;
    const n = Math.floor(slot / 2) % pool.exclusive;
    return slot % 2 === 0 ? pool.livePool + n : n;
  });
}

function blobBytes(seed: string, blob: number): Buffer {
  const bytes = Buffer.alloc(BLOB_BYTES, 0x2e);
  bytes.write(`${seed} blob ${blob}\n`);
  return bytes;
}

type BlobRef = Pick<IngestReceipt, 'size' | 'blake3' | 'sha256' | 'backend' | 'key'>;

/** Each distinct blob once into the store, durably, as an upload stores it; the staging copy let go at once. */
async function ingestBlobs(core: CoreContext, count: number): Promise<BlobRef[]> {
  const seed = randomBytes(8).toString('hex');
  const refs: BlobRef[] = new Array<BlobRef>(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: INGEST_CONCURRENCY }, async () => {
      while (next < count) {
        const blob = next++;
        const receipt = await core.blobStore.ingest([blobBytes(seed, blob)]);
        await core.blobStore.releaseStaging(receipt);
        const { size, blake3, sha256, backend, key } = receipt;
        refs[blob] = { size, blake3, sha256, backend, key };
      }
    }),
  );
  return refs;
}

/** The events the registry appends for one package: created, 3 × file ingested, finalized with its manifest. */
function packageEvents(index: number, expiring: boolean, blobs: readonly BlobRef[]): EventDraft[] {
  const packageId = uuidv7();
  const name = `bench-${index % 1000}`;
  const subject = `build-${index}`;
  const metadata = { build: index };
  const files = blobs.map((blob, file) => ({
    relative_path: `lib/file-${file}.bin`,
    media_type: 'application/octet-stream',
    size: blob.size,
    blake3: blob.blake3,
    sha256: blob.sha256,
    blob,
  }));
  // The manifest as buildManifest makes it: the paths are already in UTF-8 byte order.
  const manifest = encodeCanonicalCbor({
    schema: 'artifactstore.manifest.v1',
    package: { id: packageId, name, producer: 'ci', subject, metadata },
    files: files.map(({ blob: _blob, ...file }) => file),
  });
  return [
    packageCreatedEvent(ACTOR, {
      package_id: packageId,
      name,
      producer: 'ci',
      subject,
      retention_class: expiring ? 'ephemeral' : 'standard',
      ttl_days: expiring ? 7 : 90,
      metadata,
    }),
    ...files.map(({ blob, ...file }) => {
      const fileId = uuidv7();
      return fileIngestedEvent(ACTOR, {
        file_id: fileId,
        package_id: packageId,
        ...file,
        storage: {
          location_id: storageLocationId(fileId, blob.backend, blob.key),
          backend: blob.backend,
          key: blob.key,
        },
      });
    }),
    packageFinalizedEvent(ACTOR, packageId, manifest),
  ];
}

/** Appends and projects every package's events in transactions of 200 packages, with the clock 30 days back. */
async function buildPackages(core: CoreContext, packages: number, refs: readonly BlobRef[]): Promise<void> {
  const pool = layout(packages);
  const ref = (blob: number): BlobRef => {
    const found = refs[blob];
    if (!found) throw new Error(`blob ${blob} was not ingested`);
    return found;
  };
  let expiringIndex = 0;
  for (let start = 0; start < packages; start += PACKAGES_PER_TRANSACTION) {
    const end = Math.min(packages, start + PACKAGES_PER_TRANSACTION);
    await core.database.write(async (tx) => {
      for (let index = start; index < end; index++) {
        const expiring = isExpiring(index, pool.expiring);
        const blobs = blobsOf(index, expiring ? expiringIndex++ : undefined, pool).map(ref);
        for (const draft of packageEvents(index, expiring, blobs))
          await core.projector.appendAndApply(tx, draft);
      }
    });
  }
}

/**
 * Uploads of 64 KiB through `Registry.ingestFile`, one at a time, a package finalized every 10 files, while
 * `keepGoing` says so. Returns each upload's end time and latency (the ingest alone, not the finalizes).
 */
async function uploadLoop(
  core: CoreContext,
  label: string,
  keepGoing: (done: number) => boolean,
): Promise<{ at: number; ms: number }[]> {
  const timed: { at: number; ms: number }[] = [];
  const bytes = randomBytes(UPLOAD_BYTES);
  let packageId: string | undefined;
  let inPackage = 0;
  while (keepGoing(timed.length)) {
    packageId ??= (
      await core.registry.createPackage(
        { name: `upload-${label}`, producer: 'bench', subject: label, retention_class: 'standard' },
        ACTOR,
      )
    ).id;
    // Fresh bytes every time (a new blob, as a real upload), without the cost of randomBytes in the timing.
    bytes.writeDoubleLE(performance.now() + Math.random(), 0);
    const start = performance.now();
    await core.registry.ingestFile(packageId, `f-${inPackage}.bin`, undefined, [bytes], ACTOR);
    const end = performance.now();
    timed.push({ at: end, ms: end - start });
    if (++inPackage === FILES_PER_UPLOAD_PACKAGE) {
      await core.registry.finalizePackage(packageId, ACTOR);
      packageId = undefined;
      inPackage = 0;
    }
  }
  return timed;
}

async function measureLoopDelay<T>(
  work: () => Promise<T>,
): Promise<{ value: T; p99Ms: number; maxMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  try {
    const value = await work();
    return { value, p99Ms: histogram.percentile(99) / 1e6, maxMs: histogram.max / 1e6 };
  } finally {
    histogram.disable();
  }
}

const mib = (bytes: number): number => bytes / 2 ** 20;

/**
 * Times the units of work the collector opens (told from the uploads' by the caller's stack): how long each write
 * held the writer (SQLite) or the append lock, and each read its snapshot. Returns a function that stops timing.
 */
function timeCollectorUnits(core: CoreContext): () => { writes: number[]; reads: number[] } {
  const { database } = core;
  const write = database.write.bind(database);
  const read = database.read.bind(database);
  const writes: number[] = [];
  const reads: number[] = [];
  const timed =
    (unit: typeof write, into: number[]) =>
    <T>(work: (tx: Tx) => Promise<T>): Promise<T> => {
      if (!new Error().stack?.includes('garbage-collector')) return unit(work);
      let start = NaN;
      return unit((tx) => {
        start = performance.now();
        return work(tx);
      }).finally(() => into.push(performance.now() - start));
    };
  database.write = timed(write, writes);
  database.read = timed(read, reads);
  return () => {
    database.write = write;
    database.read = read;
    return { writes, reads };
  };
}

function summarizeUnits(durations: readonly number[]): UnitSummary {
  const done = durations.filter((ms) => !Number.isNaN(ms));
  if (done.length === 0) return { count: 0, p50Ms: NaN, maxMs: NaN, totalSeconds: 0 };
  return {
    count: done.length,
    p50Ms: percentile(done, 50),
    maxMs: percentile(done, 100),
    totalSeconds: done.reduce((sum, ms) => sum + ms, 0) / 1000,
  };
}

/**
 * One destructive GC run over a store of `packages` packages, built fast but through the same projector and
 * handlers as the registry's own commands, with the blobs really in the blob store. The uploads without the
 * collector run right before it, on the same full store.
 */
export async function benchGarbageCollection(
  dialect: 'sqlite' | 'postgres',
  pgUrl: string,
  options: GcBenchOptions,
  progress: (line: string) => void = () => undefined,
): Promise<GcBenchResult> {
  const scratch =
    dialect === 'sqlite'
      ? await createScratchSqlite(GC_BENCH_CONFIG)
      : await createScratchPostgres(pgUrl, GC_BENCH_CONFIG);
  try {
    const core = await openCore(scratch.config);
    try {
      return await runBench(core, options, progress);
    } finally {
      await core.app.close();
    }
  } finally {
    await scratch.dispose();
  }
}

async function runBench(
  core: CoreContext,
  options: GcBenchOptions,
  progress: (line: string) => void,
): Promise<GcBenchResult> {
  const pool = layout(options.packages);
  const clock = core.app.get(Clock);
  const realNow = clock.now.bind(clock);
  const buildStart = performance.now();
  const refs = await ingestBlobs(core, pool.livePool + pool.exclusive);
  progress(`${refs.length} blobs stored in ${((performance.now() - buildStart) / 1000).toFixed(0)} s`);
  // Built "30 days ago": the ephemeral packages (7 days) are due now, the standard ones (90 days) are not.
  clock.now = () => realNow() - 30 * DAY_MS;
  try {
    await buildPackages(core, options.packages, refs);
  } finally {
    clock.now = realNow;
  }
  refs.length = 0;
  const buildSeconds = (performance.now() - buildStart) / 1000;
  progress(`${options.packages} packages built in ${buildSeconds.toFixed(0)} s`);

  // The uploads alone, on the full store (after a few to warm up).
  await uploadLoop(core, 'warm-up', (done) => done < 20);
  const without = await measureLoopDelay(() => uploadLoop(core, 'without', (done) => done < options.uploads));

  // When the run's events are appended: the expiries end the first phase.
  let lastExpiredAt = NaN;
  const appendAndApply = core.projector.appendAndApply.bind(core.projector);
  core.projector.appendAndApply = async (tx, draft) => {
    const event = await appendAndApply(tx, draft);
    if (draft.event_type === PACKAGE_EXPIRED) lastExpiredAt = performance.now();
    return event;
  };
  let rssPeak = process.memoryUsage().rss;
  const rssBefore = rssPeak;
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  }, 100);
  const stopTiming = timeCollectorUnits(core);
  let running = true;
  const gcStart = performance.now();
  let gcEnd = NaN;
  const during = await measureLoopDelay(async () => {
    const run = core.registry.collectGarbage({ actor: 'gc' }).finally(() => {
      gcEnd = performance.now();
      running = false;
    });
    const [report, timed] = await Promise.all([run, uploadLoop(core, 'during', () => running)]);
    return { report, timed };
  });
  clearInterval(sampler);
  core.projector.appendAndApply = appendAndApply;
  const units = stopTiming();
  const { report, timed } = during.value;
  progress(
    `GC: ${report.expired_count} expired, ${report.collected.blobs} blobs in ${report.duration_ms} ms`,
  );

  const danglingLocations = await countDangling(core);
  const expiryEnd = Number.isNaN(lastExpiredAt) ? gcStart : lastExpiredAt;
  return {
    packages: options.packages,
    expiring: pool.expiring,
    storedBlobs: pool.livePool + pool.exclusive,
    exclusiveBlobs: pool.exclusive,
    buildSeconds,
    expired: report.expired_count,
    collected: report.collected.blobs,
    gcSeconds: (gcEnd - gcStart) / 1000,
    expirySeconds: (expiryEnd - gcStart) / 1000,
    collectionSeconds: (gcEnd - expiryEnd) / 1000,
    rssBeforeMiB: mib(rssBefore),
    rssPeakMiB: mib(rssPeak),
    danglingLocations,
    without: summarize(without.value.map((upload) => upload.ms)),
    during: summarize(timed.filter((upload) => upload.at <= gcEnd).map((upload) => upload.ms)),
    duringExpiry: summarize(timed.filter((upload) => upload.at <= expiryEnd).map((upload) => upload.ms)),
    duringCollection: summarize(
      timed.filter((upload) => upload.at > expiryEnd && upload.at <= gcEnd).map((upload) => upload.ms),
    ),
    loopDelayWithout: { p99Ms: without.p99Ms, maxMs: without.maxMs },
    loopDelayDuring: { p99Ms: during.p99Ms, maxMs: during.maxMs },
    collectorWrites: summarizeUnits(units.writes),
    collectorReads: summarizeUnits(units.reads),
  };
}

/** Live files whose storage location names a blob the store no longer has (a collector bug if any). */
async function countDangling(core: CoreContext): Promise<number> {
  const rows = await core.database.read((tx) =>
    tx.query(
      `SELECT DISTINCT s.key FROM storage_locations s JOIN artifact_files f ON f.id = s.file_id
        JOIN artifact_packages p ON p.id = f.package_id WHERE p.status IN ('created', 'finalized')`,
    ),
  );
  let dangling = 0;
  for (const row of rows) {
    if (!(await core.blobStore.exists(String(row.key)))) dangling++;
  }
  return dangling;
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (n: number): string => n.toFixed(1);

/** The Markdown table of one dialect's run: each figure beside the peer measured without the collector. */
export function gcTable(dialect: string, r: GcBenchResult): string {
  const lat = (s: LatencySummary): string => `${ms(s.p50Ms)} / ${ms(s.p99Ms)} / ${ms(s.maxMs)} ms`;
  return [
    `## garbage collection on ${dialect}`,
    '',
    `${fmt(r.packages)} packages × 3 files of 1 KiB, ${fmt(r.expiring)} of them due; ${fmt(r.storedBlobs)} blobs ` +
      `stored, ${fmt(r.exclusiveBlobs)} used by due packages only (built in ${fmt(r.buildSeconds)} s). ` +
      `One run, ${fmt(r.without.count)} uploads of 64 KiB timed before it and ${fmt(r.during.count)} during it.`,
    '',
    '| measure | during the GC run | peer: the same uploads without GC | ratio |',
    '| --- | --- | --- | --- |',
    `| run: expired / collected | ${fmt(r.expired)} packages / ${fmt(r.collected)} blobs in ${r.gcSeconds.toFixed(1)} s | expected ${fmt(r.expiring)} / ${fmt(r.exclusiveBlobs)} | |`,
    `| expiry (start → last expiry) | ${fmt(r.expired / r.expirySeconds)} packages/s (${r.expirySeconds.toFixed(1)} s) | | |`,
    `| collection (last expiry → end, orphan walk included) | ${fmt(r.collected / r.collectionSeconds)} blobs/s (${r.collectionSeconds.toFixed(1)} s) | | |`,
    `| RSS: peak during the run (sampled every 100 ms) | ${fmt(r.rssPeakMiB)} MiB | ${fmt(r.rssBeforeMiB)} MiB just before it | +${fmt(r.rssPeakMiB - r.rssBeforeMiB)} MiB |`,
    `| upload p50 / p99 / max | ${lat(r.during)} | ${lat(r.without)} | p99 ${(r.during.p99Ms / r.without.p99Ms).toFixed(2)}× (aim ≤ 1.5×) |`,
    `| … while expiring (${fmt(r.duringExpiry.count)} uploads) | ${lat(r.duringExpiry)} | | p99 ${(r.duringExpiry.p99Ms / r.without.p99Ms).toFixed(2)}× |`,
    `| … while collecting (${fmt(r.duringCollection.count)} uploads) | ${lat(r.duringCollection)} | | p99 ${(r.duringCollection.p99Ms / r.without.p99Ms).toFixed(2)}× |`,
    `| event-loop delay p99 / max | ${ms(r.loopDelayDuring.p99Ms)} / ${ms(r.loopDelayDuring.maxMs)} ms | ${ms(r.loopDelayWithout.p99Ms)} / ${ms(r.loopDelayWithout.maxMs)} ms | |`,
    `| the collector's write transactions (append lock held): count, p50 / max, total | ${fmt(r.collectorWrites.count)}, ${ms(r.collectorWrites.p50Ms)} / ${ms(r.collectorWrites.maxMs)} ms, ${r.collectorWrites.totalSeconds.toFixed(1)} s | | |`,
    `| the collector's read snapshots: count, p50 / max, total | ${fmt(r.collectorReads.count)}, ${ms(r.collectorReads.p50Ms)} / ${ms(r.collectorReads.maxMs)} ms, ${r.collectorReads.totalSeconds.toFixed(1)} s | | |`,
    `| live files whose blob is gone after the run | ${fmt(r.danglingLocations)} (must be 0) | | |`,
    '',
  ].join('\n');
}
