import { performance } from 'node:perf_hooks';
import { encodeCanonicalCbor, uuidv7 } from '@artifactstore/codec';
import type { EventDraft } from '@artifactstore/events';
import type { CreatePackageInput } from '@artifactstore/registry';
import { packageCreatedEvent, packageFinalizedEvent, tagMovedEvent } from '@artifactstore/views';
import { openCore, type CoreContext } from '../test/support/core-context.js';
import { createScratchPostgres, createScratchSqlite } from '../test/support/scratch-database.js';
import { summarize, type LatencySummary } from './stats.js';
import { seededRandom } from '../test/support/fault-scale.js';

/**
 * Tag resolution and idempotent create against the size of the store (issue #21): p50 / p99 of `Registry.getTag`,
 * of `Registry.createPackageIdempotently` retried with an existing key (the idempotent answer) and of a new
 * idempotent create, on stores of each package count; aim: p99 on the largest store ≤ 2× p99 on the smallest.
 */
export interface TagsBenchOptions {
  /** Package counts, one store each; the first is the baseline of the ratios. */
  readonly packages: readonly number[];
  /** Calls timed per measure, after a few untimed ones. */
  readonly getTags?: number;
  readonly retries?: number;
  readonly creates?: number;
}

export interface TagsStoreResult {
  readonly packages: number;
  readonly tags: number;
  readonly buildSeconds: number;
  readonly getTag: LatencySummary;
  readonly retry: LatencySummary;
  readonly create: LatencySummary;
  /** The query plans of the lookups, on this store: the plan's lines, one string per query. */
  readonly plans: readonly { readonly query: string; readonly plan: string }[];
}

const ACTOR = 'bench';
const PRODUCER = 'ci';
const NAMES = 1000;
const TAG_EVERY = 10;
const EVENTS_PER_TRANSACTION = 1000;
const WARM_UP = 20;

/** The i-th package of the store: its creation fields, its idempotency key, its tag if it has one. */
const nameOf = (index: number): string => `bench-${index % NAMES}`;
const keyOf = (index: number): string => `key-${index}`;
const tagOf = (index: number): string => `t-${index}`;
const inputOf = (index: number): CreatePackageInput => ({
  name: nameOf(index),
  producer: PRODUCER,
  subject: `build-${index}`,
  retention_class: 'standard',
  metadata: { build: index },
});

/** The events the registry appends for one package: created with a key, finalized (no files), maybe tagged. */
function packageEvents(index: number): EventDraft[] {
  const packageId = uuidv7();
  const { name, subject } = inputOf(index);
  const metadata = { build: index };
  // The manifest as buildManifest makes it, for a package without files.
  const manifest = encodeCanonicalCbor({
    schema: 'artifactstore.manifest.v1',
    package: { id: packageId, name, producer: PRODUCER, subject, metadata },
    files: [],
  });
  const drafts = [
    packageCreatedEvent(ACTOR, {
      package_id: packageId,
      name,
      producer: PRODUCER,
      subject,
      retention_class: 'standard',
      ttl_days: 90,
      metadata,
      idempotency_key: keyOf(index),
    }),
    packageFinalizedEvent(ACTOR, packageId, manifest),
  ];
  if (index % TAG_EVERY === 0) {
    drafts.push(
      tagMovedEvent(ACTOR, { name, tag: tagOf(index), package_id: packageId, previous_package_id: null }),
    );
  }
  return drafts;
}

/** Appends and projects the packages from `from` up to `to` in transactions of about 1,000 events. */
async function buildPackages(
  core: CoreContext,
  from: number,
  to: number,
  progress: (line: string) => void,
): Promise<void> {
  const perTransaction = Math.ceil(EVENTS_PER_TRANSACTION / 2.1);
  const start = performance.now();
  let reported = start;
  for (let first = from; first < to; first += perTransaction) {
    const end = Math.min(to, first + perTransaction);
    await core.database.write(async (tx) => {
      for (let index = first; index < end; index++) {
        for (const draft of packageEvents(index)) await core.projector.appendAndApply(tx, draft);
      }
    });
    if (performance.now() - reported > 30_000) {
      reported = performance.now();
      const rate = (end - from) / ((reported - start) / 1000);
      progress(`${end.toLocaleString('en-US')} packages, ${Math.round(rate)} packages/s`);
    }
  }
}

/** Times `calls` calls of `call(i)`, one at a time, after WARM_UP untimed ones (negative i). */
async function time(calls: number, call: (i: number) => Promise<unknown>): Promise<LatencySummary> {
  for (let i = -WARM_UP; i < 0; i++) await call(i);
  const latencies: number[] = [];
  for (let i = 0; i < calls; i++) {
    const start = performance.now();
    await call(i);
    latencies.push(performance.now() - start);
  }
  return summarize(latencies);
}

/** The plans of the statements getTag and an idempotent retry run, for a tag and a key that exist. */
async function queryPlans(
  core: CoreContext,
  dialect: 'sqlite' | 'postgres',
  index: number,
): Promise<{ query: string; plan: string }[]> {
  const [row] = await core.database.read((tx) =>
    tx.query('SELECT id FROM artifact_packages WHERE created_by = ? AND idempotency_key = ?', [
      ACTOR,
      keyOf(index),
    ]),
  );
  const packageId = String(row?.id);
  const statements: [string, string, unknown[]][] = [
    ['tag by id', 'SELECT package_id FROM tags WHERE id = ?', [`${nameOf(index)}:${tagOf(index)}`]],
    ['package by id', 'SELECT id, status FROM artifact_packages WHERE id = ?', [packageId]],
    [
      'package by (created_by, idempotency_key)',
      'SELECT id FROM artifact_packages WHERE created_by = ? AND idempotency_key = ?',
      [ACTOR, keyOf(index)],
    ],
    [
      'first v1.package.created of the package',
      'SELECT sequence FROM events WHERE subject_kind = ? AND subject_id = ? AND event_type = ? ORDER BY sequence LIMIT 1',
      ['package', packageId, 'v1.package.created'],
    ],
  ];
  const plans = [];
  for (const [query, sql, params] of statements) {
    const rows = await core.database.read((tx) =>
      tx.query(`${dialect === 'sqlite' ? 'EXPLAIN QUERY PLAN' : 'EXPLAIN'} ${sql}`, params),
    );
    const plan = rows.map((r) => String(dialect === 'sqlite' ? r.detail : r['QUERY PLAN']).trim()).join('; ');
    plans.push({ query, plan });
  }
  return plans;
}

async function measureStore(
  core: CoreContext,
  dialect: 'sqlite' | 'postgres',
  packages: number,
  buildSeconds: number,
  options: TagsBenchOptions,
): Promise<TagsStoreResult> {
  const pick = seededRandom(packages);
  const tags = Math.ceil(packages / TAG_EVERY);
  const getTag = await time(options.getTags ?? 2000, () => {
    const index = Math.floor(pick() * tags) * TAG_EVERY;
    return core.registry.getTag(nameOf(index), tagOf(index));
  });
  const retry = await time(options.retries ?? 1000, async () => {
    const index = Math.floor(pick() * packages);
    const answer = await core.registry.createPackageIdempotently(inputOf(index), ACTOR, keyOf(index));
    if (answer.created) throw new Error(`the retry with ${keyOf(index)} created a package`);
  });
  const create = await time(options.creates ?? 500, async (i) => {
    const key = `new-${packages}-${i}`;
    const answer = await core.registry.createPackageIdempotently(
      { ...inputOf(packages + i), subject: key },
      ACTOR,
      key,
    );
    if (!answer.created) throw new Error(`the new key ${key} found a package`);
  });
  const plans = await queryPlans(core, dialect, Math.floor(pick() * tags) * TAG_EVERY);
  return { packages, tags, buildSeconds, getTag, retry, create, plans };
}

/**
 * One store per dialect, grown to each package count in turn (the counts ascending), measured at each: the store
 * of 10,000 is the first 10,000 packages of the larger one. The packages are built fast but through the same
 * projector and handlers as the registry's own commands: created with an idempotency key, finalized without files,
 * every tenth tagged.
 */
export async function benchTags(
  dialect: 'sqlite' | 'postgres',
  pgUrl: string,
  options: TagsBenchOptions,
  progress: (line: string) => void = () => undefined,
): Promise<TagsStoreResult[]> {
  const counts = [...new Set(options.packages)].sort((a, b) => a - b);
  if (counts.length === 0 || counts.some((n) => !Number.isSafeInteger(n) || n < TAG_EVERY))
    throw new Error(`--tags-packages must list counts of at least ${TAG_EVERY}`);
  const scratch = dialect === 'sqlite' ? await createScratchSqlite() : await createScratchPostgres(pgUrl);
  try {
    const core = await openCore(scratch.config);
    try {
      const results: TagsStoreResult[] = [];
      let built = 0;
      let buildSeconds = 0;
      for (const packages of counts) {
        const start = performance.now();
        await buildPackages(core, built, packages, progress);
        buildSeconds += (performance.now() - start) / 1000;
        built = packages;
        progress(`${packages.toLocaleString('en-US')} packages built in ${buildSeconds.toFixed(0)} s`);
        results.push(await measureStore(core, dialect, packages, buildSeconds, options));
      }
      return results;
    } finally {
      await core.app.close();
    }
  } finally {
    await scratch.dispose();
  }
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (n: number): string => n.toFixed(2);

/** The Markdown table of one dialect: each store's p50 / p99, and its p99 over the smallest store's. */
export function tagsTable(dialect: string, results: readonly TagsStoreResult[]): string {
  const [base] = results;
  if (!base) return '';
  const measures: [string, (r: TagsStoreResult) => LatencySummary][] = [
    ['getTag of an existing tag', (r) => r.getTag],
    ['idempotent create, retry with an existing key (the answer)', (r) => r.retry],
    ['idempotent create, new key', (r) => r.create],
  ];
  const largest = results[results.length - 1] ?? base;
  const others = results.slice(1);
  const row = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [
    `## tags and idempotent create on ${dialect}`,
    '',
    `Stores of ${results.map((r) => fmt(r.packages)).join(' and ')} packages, created with an idempotency key, ` +
      `finalized without files, every tenth tagged: one store grown to each size in turn (build time to each ` +
      `size, cumulative: ${results.map((r) => `${fmt(r.buildSeconds)} s`).join(' / ')}). One call at a time; ` +
      `p50 / p99 / max in ms; aim: p99 ≤ 2× the p99 at ${fmt(base.packages)}.`,
    '',
    row([
      'measure',
      ...results.map((r) => `${fmt(r.packages)} packages`),
      ...others.map((r) => `p99 ${fmt(r.packages)} / ${fmt(base.packages)}`),
    ]),
    row(['---', ...results.map(() => '---'), ...others.map(() => '---')]),
    ...measures.map(([label, of]) =>
      row([
        `${label} (${fmt(of(base).count)} calls)`,
        ...results.map((r) => `${ms(of(r).p50Ms)} / ${ms(of(r).p99Ms)} / ${ms(of(r).maxMs)}`),
        ...others.map((r) => `${(of(r).p99Ms / of(base).p99Ms).toFixed(2)}×`),
      ]),
    ),
    '',
    `Query plans at ${fmt(largest.packages)} packages:`,
    '',
    ...largest.plans.map((p) => `- ${p.query}: \`${p.plan}\``),
    '',
  ].join('\n');
}
