import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { TILE_WIDTH, formatTimestamp, uuidv7 } from '@artifactstore/codec';
import type { Tx } from '@artifactstore/db';
import { makeEvent, type EventDraft } from '@artifactstore/events';
import { TransparencyLog } from '@artifactstore/registry';
import { RegistryViewWriter, VIEW_TABLES, ViewProjector } from '@artifactstore/views';
import { openCore, type CoreContext } from '../test/support/core-context.js';
import { fileIngested, packageCreated, packageFinalized } from '../test/support/sample-events.js';
import {
  createScratchPostgres,
  createScratchSqlite,
  type ScratchDatabase,
} from '../test/support/scratch-database.js';
import { median, summarize, type LatencySummary } from './stats.js';
import { seededRandom } from '../test/support/fault-scale.js';

/**
 * The cost of the transparency log's tree (ADR 0015) and the speed of what it serves. Appends and replays with
 * the tree against the same code without it (`RegistryViewWriter` built with `tree = null`), interleaved run by
 * run on one database; then receipts, tiles, entry bundles and consistency proofs on a log of millions of events.
 * Aims (the issue): appends ≥ 90% and replay ≥ 80% of the rate without the tree, on both dialects; a receipt at
 * 5,000,000 events ≤ 5 ms p99 on SQLite; a full tile read ≤ 1 ms p99.
 */
export interface TransparencyBenchOptions {
  /** Timed runs of each side (baseline, tree) of the append and replay pairs. */
  readonly runs: number;
  /** Packages per append run: 5 events each (created, 3 files, finalized), one package per transaction. */
  readonly appendPackages: number;
  /** Events of the log that is replayed. */
  readonly replayEvents: number;
  /** Events of the large log that receipts and tiles are read from; 0 leaves that part out. */
  readonly largeEvents: number;
  /** Calls timed per read measure, after a few untimed ones. */
  readonly calls?: number;
}

/** One rate per timed run, events/s, for each side of a pair. */
export interface RatePair {
  readonly baseline: readonly number[];
  readonly tree: readonly number[];
}

export interface LargeLogResult {
  readonly events: number;
  /** Finalized packages (through the registry) spread over the log: the ones receipts are asked for. */
  readonly packages: number;
  /** Wall time of the whole build, and of its parts: raw event INSERTs, the tree's catch-up, the packages. */
  readonly buildSeconds: number;
  readonly insertSeconds: number;
  readonly treeSeconds: number;
  readonly packageSeconds: number;
  /** The SQLite file (with its WAL), MiB; undefined on PostgreSQL. */
  readonly databaseMiB: number | undefined;
  readonly receipt: LatencySummary;
  readonly tile0: LatencySummary;
  /** Full level-1 tiles exist from 65,536 events on. */
  readonly tile1: LatencySummary | undefined;
  readonly entryBundle: LatencySummary;
  readonly consistency: LatencySummary;
  /**
   * Controls for the machine's noise: a busy loop (CPU only: no allocation, no I/O, no GC) as long as the receipt's
   * p50 and as the level-0 tile's, timed the same way right after them. Their tails are what preemption alone costs.
   */
  readonly receiptControl: LatencySummary;
  readonly tileControl: LatencySummary;
  /** The machine's 1-minute load average when the reads started and ended. */
  readonly loadAverage: readonly [number, number];
}

export interface TransparencyResult {
  readonly appendEvents: number;
  readonly append: RatePair;
  readonly replayEvents: number;
  readonly replay: RatePair;
  readonly large: LargeLogResult | undefined;
}

const ACTOR = 'bench';
const WARM_UP = 20;
/** Events the tree catches up with per call, and per transaction, in the bench's own catch-ups. */
const CATCH_UP_CALL = 10_000;
const CATCH_UP_TRANSACTION = 50_000;
/** Raw events per multi-row INSERT, and per transaction, when the large log is built. */
const ROWS_PER_INSERT = { sqlite: 500, postgres: 1000 } as const;
const ROWS_PER_TRANSACTION = 50_000;
/** Finalized packages in the large log: enough that random receipts fall all over it. */
const RECEIPT_PACKAGES = 1000;
const TREE_TABLES = new Set(['log_leaves', 'log_tile_hashes']);

/**
 * Today's views without the tree. Its reset leaves the tree's tables alone as well, so a baseline replay neither
 * empties nor fills them, as the code before the tree did not: deleting leaves is part of what the tree costs.
 */
class ViewsWithoutTree extends RegistryViewWriter {
  constructor() {
    super(undefined, null);
  }

  override async reset(tx: Tx): Promise<void> {
    for (const table of [...VIEW_TABLES].reverse()) {
      if (!TREE_TABLES.has(table.name)) await tx.run(`DELETE FROM ${table.name}`);
    }
  }
}

/** The registry's events of one package: created, 3 files ingested, finalized. */
function packageDrafts(): EventDraft[] {
  const packageId = uuidv7();
  return [
    packageCreated(packageId),
    ...['bin/tool', 'lib/tool.so', 'README.md'].map((path) => fileIngested(packageId, path)),
    packageFinalized(packageId),
  ];
}

/** Adds to the tree every committed event it lacks, as the server does at startup; returns how many. */
async function catchUpTree(core: CoreContext): Promise<number> {
  let added = 0;
  for (;;) {
    const batch = await core.database.write(async (tx) => {
      await core.eventLog.lockAppends(tx);
      let inTransaction = 0;
      while (inTransaction < CATCH_UP_TRANSACTION) {
        const step = await core.viewWriter.catchUpTree(tx, CATCH_UP_CALL);
        inTransaction += step;
        if (step < CATCH_UP_CALL) break;
      }
      return inTransaction;
    });
    added += batch;
    if (batch < CATCH_UP_TRANSACTION) return added;
  }
}

async function count(core: CoreContext, table: 'events' | 'log_leaves'): Promise<number> {
  const [row] = await core.database.read((tx) => tx.query(`SELECT COUNT(*) AS n FROM ${table}`));
  return Number(row?.n);
}

/**
 * Events/s through `ViewProjector.appendAndApply`, one package per transaction, with and without the tree, the
 * two taking turns (the side that goes first alternating) on one database. The baseline leaves the tree behind the
 * log; it catches up, untimed, before every run.
 */
async function benchAppends(core: CoreContext, packages: number, runs: number): Promise<RatePair> {
  const withoutTree = new ViewProjector(core.eventLog, new ViewsWithoutTree());
  const timeRun = async (projector: ViewProjector, packageCount: number): Promise<number> => {
    const drafts = Array.from({ length: packageCount }, packageDrafts);
    await catchUpTree(core);
    const start = performance.now();
    for (const events of drafts) {
      await core.database.write(async (tx) => {
        for (const draft of events) await projector.appendAndApply(tx, draft);
      });
    }
    return (packageCount * 5) / ((performance.now() - start) / 1000);
  };
  const warmUp = Math.max(20, Math.floor(packages / 10));
  await timeRun(withoutTree, warmUp);
  await timeRun(core.projector, warmUp);
  const baseline: number[] = [];
  const tree: number[] = [];
  for (let run = 0; run < runs; run++) {
    if (run % 2 === 0) {
      baseline.push(await timeRun(withoutTree, packages));
      tree.push(await timeRun(core.projector, packages));
    } else {
      tree.push(await timeRun(core.projector, packages));
      baseline.push(await timeRun(withoutTree, packages));
    }
  }
  await catchUpTree(core);
  return { baseline, tree };
}

/**
 * Grows the log to `events` with the registry's events (200 packages per transaction, tree kept), then times full
 * replays (`EventLog.replay`) with and without the tree, taking turns.
 */
async function benchReplays(
  core: CoreContext,
  events: number,
  runs: number,
): Promise<{ events: number; pair: RatePair }> {
  for (let total = await count(core, 'events'); total < events; total += 1000) {
    await core.database.write(async (tx) => {
      for (let i = 0; i < 200; i++) {
        for (const draft of packageDrafts()) await core.projector.appendAndApply(tx, draft);
      }
    });
  }
  const total = await count(core, 'events');
  const withoutTree = new ViewsWithoutTree();
  const timeRun = async (replay: () => Promise<number>): Promise<number> => {
    const start = performance.now();
    await replay();
    return total / ((performance.now() - start) / 1000);
  };
  const baselineReplay = () => core.eventLog.replay(withoutTree);
  const treeReplay = () => core.projector.replayAll();
  const baseline: number[] = [];
  const tree: number[] = [];
  for (let run = 0; run < runs; run++) {
    if (run % 2 === 0) {
      baseline.push(await timeRun(baselineReplay));
      tree.push(await timeRun(treeReplay));
    } else {
      tree.push(await timeRun(treeReplay));
      baseline.push(await timeRun(baselineReplay));
    }
  }
  const leaves = await count(core, 'log_leaves');
  if (leaves !== total) throw new Error(`after replay the tree has ${leaves} leaves for ${total} events`);
  return { events: total, pair: { baseline, tree } };
}

/** `events` events of a type no view knows (only the tree takes them), straight into the log in big INSERTs. */
async function insertRawEvents(core: CoreContext, events: number): Promise<void> {
  const draft = makeEvent(
    { event_type: 'v1.bench.synthetic', subject_kind: 'bench', subject_id: uuidv7(), actor: ACTOR },
    { name: 'bench-package', producer: 'ci', subject: 'git:0123456789abcdef', metadata: { build: 1 } },
  );
  const chainDigest = randomBytes(32);
  for (let done = 0; done < events;) {
    const inTransaction = Math.min(ROWS_PER_TRANSACTION, events - done);
    await core.database.write(async (tx) => {
      // Appends are serialized by this lock on PostgreSQL; the bench holds it as any writer of the log must.
      await core.eventLog.lockAppends(tx);
      // Sequences are the writer's to give (the identity column's own generator is not used).
      const [head] = await tx.query('SELECT COALESCE(MAX(sequence), 0) AS head FROM events');
      let sequence = Number(head?.head ?? 0);
      const perInsert = ROWS_PER_INSERT[tx.dialect];
      const createdAt = formatTimestamp(new Date());
      for (let at = 0; at < inTransaction; at += perInsert) {
        const rows = Math.min(perInsert, inTransaction - at);
        const params: unknown[] = [];
        for (let i = 0; i < rows; i++) {
          params.push(
            ++sequence,
            draft.event_type,
            draft.subject_kind,
            uuidv7(),
            ACTOR,
            draft.payload,
            draft.payload_digest,
            chainDigest,
            createdAt,
          );
        }
        await tx.run(
          `INSERT INTO events (sequence, event_type, subject_kind, subject_id, actor, payload, payload_digest,
            chain_digest, created_at) ${tx.dialect === 'postgres' ? 'OVERRIDING SYSTEM VALUE ' : ''}VALUES ${Array.from({ length: rows }, () => '(?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
          params,
        );
      }
    });
    done += inTransaction;
  }
}

/** A package through the registry: created, 3 small files ingested, finalized. */
async function publishPackage(core: CoreContext, index: number): Promise<string> {
  const pkg = await core.registry.createPackage(
    { name: `bench-${index % 100}`, producer: 'ci', subject: `build-${index}`, retention_class: 'standard' },
    ACTOR,
  );
  for (const path of ['bin/tool', 'lib/tool.so', 'README.md']) {
    await core.registry.ingestFile(pkg.id, path, undefined, [randomBytes(256)], ACTOR);
  }
  await core.registry.finalizePackage(pkg.id, ACTOR);
  return pkg.id;
}

/** Times `calls` calls of `call()`, one at a time, after WARM_UP untimed ones. */
async function time(calls: number, call: () => Promise<unknown>): Promise<LatencySummary> {
  for (let i = 0; i < WARM_UP; i++) await call();
  const latencies: number[] = [];
  for (let i = 0; i < calls; i++) {
    const start = performance.now();
    await call();
    latencies.push(performance.now() - start);
  }
  return summarize(latencies);
}

/** A busy loop of `steps` steps: CPU only, nothing allocated. */
function spin(steps: number): number {
  let x = 0;
  for (let i = 0; i < steps; i++) x = (Math.imul(x, 31) + i) | 0;
  return x;
}

/** Times `calls` busy loops as long as `ms` on a quiet core (the fastest of a few tries sets the length). */
async function timeSpin(calls: number, ms: number): Promise<LatencySummary> {
  let steps = 100_000;
  for (let round = 0; round < 3; round++) {
    let fastest = Infinity;
    for (let attempt = 0; attempt < 10; attempt++) {
      const start = performance.now();
      spin(steps);
      fastest = Math.min(fastest, performance.now() - start);
    }
    steps = Math.max(1, Math.round((steps * ms) / Math.max(fastest, 0.001)));
  }
  return time(calls, () => Promise.resolve(spin(steps)));
}

/**
 * Builds a log of `events` events as fast as the database takes them: raw INSERTs of synthetic events in
 * transactions of 50,000, the tree brought up to date after each block by the real LogTreeWriter (its catch-up,
 * as at startup), and RECEIPT_PACKAGES packages through the registry spread evenly among them. Then times
 * receipts of random packages, full tiles of levels 0 and 1, full entry bundles and consistency proofs.
 */
async function benchLargeLog(
  core: CoreContext,
  scratch: ScratchDatabase,
  events: number,
  calls: number,
  progress: (line: string) => void,
): Promise<LargeLogResult> {
  const packages = Math.max(1, Math.min(RECEIPT_PACKAGES, Math.floor(events / 100)));
  const blockEnd = (index: number): number => Math.floor(((index + 1) * events) / packages);
  const packageIds: string[] = [];
  let insertSeconds = 0;
  let treeSeconds = 0;
  let packageSeconds = 0;
  const start = performance.now();
  let reported = start;
  const timed = async <T>(work: () => Promise<T>): Promise<[T, number]> => {
    const begin = performance.now();
    const value = await work();
    return [value, (performance.now() - begin) / 1000];
  };
  for (let index = 0; index < packages; index++) {
    // Block by block, so that the packages are spread evenly and the log ends at `events`.
    const raw = Math.max(0, blockEnd(index) - blockEnd(index - 1) - 5);
    const [, inserting] = await timed(() => insertRawEvents(core, raw));
    insertSeconds += inserting;
    const [, catchingUp] = await timed(() => catchUpTree(core));
    treeSeconds += catchingUp;
    const [id, publishing] = await timed(() => publishPackage(core, index));
    packageSeconds += publishing;
    packageIds.push(id);
    if (performance.now() - reported > 30_000) {
      reported = performance.now();
      progress(
        `${blockEnd(index).toLocaleString('en-US')} events in ${((reported - start) / 1000).toFixed(0)} s ` +
          `(INSERTs ${insertSeconds.toFixed(0)} s, tree ${treeSeconds.toFixed(0)} s, packages ${packageSeconds.toFixed(0)} s)`,
      );
    }
  }
  const buildSeconds = (performance.now() - start) / 1000;
  const size = await count(core, 'events');
  const leaves = await count(core, 'log_leaves');
  if (leaves !== size) throw new Error(`the tree has ${leaves} leaves for ${size} events`);
  progress(`${size.toLocaleString('en-US')} events built in ${buildSeconds.toFixed(0)} s`);
  if (scratch.dialect === 'postgres') {
    // A bulk load outruns autovacuum: without statistics the planner joins the entry bundle's 256 leaves to the
    // events by a scan of the whole log. A store grown over time has them.
    await core.database.write((tx) => tx.run('ANALYZE'));
  }

  const log = core.app.get(TransparencyLog);
  const loadBefore = loadavg()[0] ?? NaN;
  const pick = seededRandom(size);
  const below = (n: number): number => Math.floor(pick() * n);
  const receipt = await time(calls, () => log.receipt(packageIds[below(packageIds.length)] ?? ''));
  const tile0 = await time(calls, () => log.tile(0, below(Math.floor(size / TILE_WIDTH)), TILE_WIDTH));
  const level1Tiles = Math.floor(size / TILE_WIDTH ** 2);
  const tile1 =
    level1Tiles > 0 ? await time(calls, () => log.tile(1, below(level1Tiles), TILE_WIDTH)) : undefined;
  const entryBundle = await time(calls, () =>
    log.entryBundle(below(Math.floor(size / TILE_WIDTH)), TILE_WIDTH),
  );
  const consistency = await time(calls, () => log.consistency(1 + below(size - 1)));
  const receiptControl = await timeSpin(calls, receipt.p50Ms);
  const tileControl = await timeSpin(calls, tile0.p50Ms);
  return {
    events: size,
    packages,
    buildSeconds,
    insertSeconds,
    treeSeconds,
    packageSeconds,
    databaseMiB: scratch.dialect === 'sqlite' ? await sqliteMiB(scratch) : undefined,
    receipt,
    tile0,
    tile1,
    entryBundle,
    consistency,
    receiptControl,
    tileControl,
    loadAverage: [loadBefore, loadavg()[0] ?? NaN],
  };
}

async function sqliteMiB(scratch: ScratchDatabase): Promise<number | undefined> {
  const target = scratch.config.database;
  if (target.dialect !== 'sqlite') return undefined;
  let bytes = 0;
  for (const path of [target.path, `${target.path}-wal`]) {
    bytes += await stat(path).then(
      (found) => found.size,
      () => 0,
    );
  }
  return bytes / 2 ** 20;
}

async function withCore<T>(
  create: () => Promise<ScratchDatabase>,
  work: (core: CoreContext, scratch: ScratchDatabase) => Promise<T>,
): Promise<T> {
  const scratch = await create();
  try {
    const core = await openCore(scratch.config);
    try {
      return await work(core, scratch);
    } finally {
      await core.app.close();
    }
  } finally {
    await scratch.dispose();
  }
}

/** The whole suite on one dialect: appends and replays on one scratch database, the large log on another. */
export async function benchTransparency(
  dialect: 'sqlite' | 'postgres',
  pgUrl: string,
  options: TransparencyBenchOptions,
  progress: (line: string) => void = () => undefined,
): Promise<TransparencyResult> {
  const config = { ARTIFACTSTORE_GC_INTERVAL_SECONDS: '0' };
  const create = () =>
    dialect === 'sqlite' ? createScratchSqlite(config) : createScratchPostgres(pgUrl, config);
  const { append, replay } = await withCore(create, async (core) => {
    const appendPair = await benchAppends(core, options.appendPackages, options.runs);
    progress(
      `appends: ${median(appendPair.tree).toFixed(0)} / ${median(appendPair.baseline).toFixed(0)} ev/s`,
    );
    const replayRuns = await benchReplays(core, options.replayEvents, options.runs);
    progress(
      `replay of ${replayRuns.events}: ${median(replayRuns.pair.tree).toFixed(0)} / ` +
        `${median(replayRuns.pair.baseline).toFixed(0)} ev/s`,
    );
    return { append: appendPair, replay: replayRuns };
  });
  const large =
    options.largeEvents > 0
      ? await withCore(create, (core, scratch) =>
          benchLargeLog(core, scratch, options.largeEvents, options.calls ?? 2000, progress),
        )
      : undefined;
  return {
    appendEvents: options.appendPackages * 5,
    append,
    replayEvents: replay.events,
    replay: replay.pair,
    large,
  };
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (latencies: LatencySummary): string =>
  `${latencies.p50Ms.toFixed(2)} / ${latencies.p99Ms.toFixed(2)} / ${latencies.maxMs.toFixed(2)}`;

/** The Markdown report of one dialect: the two pairs with their ratios, then the reads of the large log. */
export function transparencyTable(dialect: string, result: TransparencyResult): string {
  const pairRow = (label: string, pair: RatePair, aim: number): string => {
    const tree = median(pair.tree);
    const baseline = median(pair.baseline);
    // Each run's two sides ran back to back, so their ratio is free of the drift between runs.
    const paired = median(pair.tree.map((rate, run) => rate / (pair.baseline[run] ?? NaN)));
    const each = (rates: readonly number[]): string => rates.map(fmt).join(', ');
    const percent = (ratio: number): string => `${Math.round(ratio * 100)}%`;
    return (
      `| ${label} | ${fmt(tree)} (${each(pair.tree)}) | ${fmt(baseline)} (${each(pair.baseline)}) | ` +
      `${percent(paired)} | ${percent(tree / baseline)} | ` +
      `≥ ${aim}%: ${paired * 100 >= aim ? 'met' : '**missed**'} |`
    );
  };
  const lines = [
    `## transparency log on ${dialect}`,
    '',
    `Events/s, median (each run); the baseline is the same code with \`RegistryViewWriter\` built without the ` +
      `tree, the two taking turns on one database. The ratio is the median of the runs' own ratios (the aim is ` +
      `judged on it), then the ratio of the medians.`,
    '',
    '| measure | with the tree | without the tree | ratio, run by run | ratio of medians | aim |',
    '| --- | --- | --- | --- | --- | --- |',
    pairRow(
      `append: ${fmt(result.appendEvents)} events, a package (created, 3 files, finalized) per transaction`,
      result.append,
      90,
    ),
    pairRow(`replay of ${fmt(result.replayEvents)} events`, result.replay, 80),
    '',
  ];
  const large = result.large;
  if (!large) return lines.join('\n');
  const rows: [string, LatencySummary | undefined, string][] = [
    [`receipt of a random package (${fmt(large.packages)} packages)`, large.receipt, '≤ 5 ms p99 on SQLite'],
    ['full tile, level 0 (256 leaf hashes)', large.tile0, '≤ 1 ms p99'],
    ['full tile, level 1', large.tile1, '≤ 1 ms p99'],
    ['full entry bundle (256 entries)', large.entryBundle, ''],
    ['consistency proof, random size → the whole log', large.consistency, ''],
    [
      `control: CPU alone for ${large.receipt.p50Ms.toFixed(2)} ms (the receipt's p50)`,
      large.receiptControl,
      '',
    ],
    [`control: CPU alone for ${large.tile0.p50Ms.toFixed(2)} ms (the tile's p50)`, large.tileControl, ''],
  ];
  lines.push(
    `Reads from a log of ${fmt(large.events)} events, one call at a time, p50 / p99 / max in ms. Built in ` +
      `${fmt(large.buildSeconds)} s: raw INSERTs ${fmt(large.insertSeconds)} s, the tree's catch-up ` +
      `${fmt(large.treeSeconds)} s (${fmt(large.events / large.treeSeconds)} leaves/s), ${fmt(large.packages)} ` +
      `packages through the registry ${fmt(large.packageSeconds)} s` +
      (large.databaseMiB === undefined ? '; then ANALYZE' : `; database ${fmt(large.databaseMiB)} MiB`) +
      `. Load average (1 min) ${large.loadAverage.map((load) => load.toFixed(1)).join(' → ')} over the reads.`,
    '',
    '| measure | calls | p50 / p99 / max | aim |',
    '| --- | --- | --- | --- |',
    ...rows.map(([label, latencies, aim]) =>
      latencies
        ? `| ${label} | ${fmt(latencies.count)} | ${ms(latencies)} | ${aim} |`
        : `| ${label} | | not measured: no full tile at this size | ${aim} |`,
    ),
    '',
  );
  return lines.join('\n');
}
