import { performance } from 'node:perf_hooks';
import { setImmediate, setTimeout as sleep } from 'node:timers/promises';
import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { formatTimestamp } from '@artifactstore/codec';
import { AppConfig, Clock } from '@artifactstore/config';
import { BlobStore, type StoredBlob } from '@artifactstore/dataplane';
import { Database, asNumber, asString, asTimestamp, type Row, type Tx } from '@artifactstore/db';
import { EventLog } from '@artifactstore/events';
import {
  ViewProjector,
  blobCollectedEvent,
  packageExpiredEvent,
  type ExpiryReason,
} from '@artifactstore/views';
import { checkLabel } from './input-rules.js';
import { CollectorBusyError } from './registry.errors.js';

/** What one run did (or, dry, would do). */
export interface GcReport {
  readonly dry_run: boolean;
  /** Packages expired by this run, oldest deadline first; at most MAX_LISTED_EXPIRIES of them (see `expired_count`). */
  readonly expired: readonly { readonly id: string; readonly reason: ExpiryReason }[];
  readonly expired_count: number;
  readonly collected: { readonly blobs: number; readonly bytes: number };
  /** Finalized packages past their deadline that a hold, a tag, or keep-latest kept. */
  readonly kept: { readonly held: number; readonly tagged: number; readonly latest: number };
  readonly duration_ms: number;
}

/** Totals since the process started, for metrics. */
export interface GcStats {
  readonly runs: number;
  readonly expiredPackages: number;
  readonly collectedBlobs: number;
  readonly collectedBytes: number;
  /** Of the last run that finished; undefined before the first. */
  readonly lastDurationMs: number | undefined;
  /** Blobs and bytes in storage as the last run's walk found them; undefined before the first. */
  readonly storedBlobs: number | undefined;
  readonly storedBytes: number | undefined;
}

export interface GcOptions {
  readonly dryRun?: boolean;
  /** Who the events name: the admin who asked, or `gc` for the scheduled runs. */
  readonly actor?: string;
}

/** PostgreSQL advisory lock held by the process that collects: one collector per cluster at a time. */
const GC_LOCK_KEY = 7_021_802_725;
/**
 * Packages expired per transaction. Every transaction of the collector holds the append lock, which uploads' commits
 * wait for: small batches keep that wait short (`npm run bench -- --suites gc`).
 */
const EXPIRE_BATCH = 10;
/** Removed packages read per page while looking for their blobs. */
const PACKAGE_PAGE = 200;
/** Blobs decided and deleted per transaction: the append lock is held meanwhile, so small. */
const COLLECT_BATCH = 16;
/** Stored blobs checked against the views per query while looking for orphans. */
const ORPHAN_BATCH = 500;
const DELETE_CONCURRENCY = 8;
const MAX_LISTED_EXPIRIES = 10_000;
const BLOB_KEY = /^[0-9a-f]{64}$/;
const LIVE = `('created', 'finalized')`;

/** Due by retention: past the deadline, finalized, neither held nor tagged. */
const RETENTION_DUE = `SELECT p.id, r.expires_at FROM retention_state r JOIN artifact_packages p ON p.id = r.package_id
  WHERE r.expires_at <= ? AND p.status = 'finalized' AND p.held = 0
    AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.package_id = p.id)`;
/** The newest `keep` finalized packages of the name are kept: a due package needs at least `keep` newer ones. */
const HAS_KEEP_NEWER = `(SELECT count(*) FROM (SELECT 1 FROM artifact_packages q
    WHERE q.name = p.name AND q.status = 'finalized' AND (q.finalized_at, q.id) > (p.finalized_at, p.id)
    LIMIT ?) AS newer) >= ?`;
const ABANDONED_DUE = `SELECT p.id, p.created_at, e.created_at AS last_event_at
  FROM artifact_packages p JOIN events e ON e.sequence = p.last_event_sequence
  WHERE p.status = 'created' AND p.held = 0 AND e.created_at <= ?`;

/**
 * The garbage collector: expiry, then collection. A run first appends `v1.package.expired` for each package whose
 * retention deadline passed (unless held, tagged, or among the newest ARTIFACTSTORE_KEEP_LATEST_PER_NAME finalized packages
 * of its name) and for each package left `created` ARTIFACTSTORE_ABANDONED_AFTER_HOURS after its last event. Then it
 * removes blobs nothing live needs: those whose every storage location belongs to packages removed at least
 * ARTIFACTSTORE_GC_GRACE_SECONDS ago, and orphans (bytes in storage that no storage location names) stored at least
 * that long ago; each removal is a `v1.blob.collected` event. Last, the temp files and staging objects of dead
 * ingests go (`BlobStore.sweepLeftovers`).
 *
 * Safety (ADR 0013): a blob is deleted only inside a write transaction that holds the log's append lock, after the
 * views, read under that lock, showed no live file using it; and every file commit, under the same lock, checks
 * that its blob is in storage and puts it back from its own staging copy when it is not
 * (`BlobStore.ensureStored`). Whichever takes the lock first wins, and neither can leave a file without bytes.
 *
 * One run at a time per process; on PostgreSQL one per cluster (an advisory lock): a scheduled run finding it
 * taken skips its turn, an asked-for run is CollectorBusyError.
 */
@Injectable()
export class GarbageCollector implements OnModuleDestroy {
  private readonly logger = new Logger('gc');
  private readonly stopping = new AbortController();
  private queue: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private totals = {
    runs: 0,
    expiredPackages: 0,
    collectedBlobs: 0,
    collectedBytes: 0,
    lastDurationMs: undefined as number | undefined,
    storedBlobs: undefined as number | undefined,
    storedBytes: undefined as number | undefined,
  };

  constructor(
    private readonly database: Database,
    private readonly eventLog: EventLog,
    private readonly projector: ViewProjector,
    private readonly blobStore: BlobStore,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  get stats(): GcStats {
    return { ...this.totals };
  }

  /** Runs expiry and collection now, after any run of this process still going. */
  run(options: GcOptions = {}): Promise<GcReport> {
    const actor = checkLabel('actor', options.actor ?? 'gc');
    const dryRun = options.dryRun ?? false;
    const next = this.queue.then(async () => {
      const outcome = await this.database.exclusively(GC_LOCK_KEY, () => this.runOnce(dryRun, actor));
      if (!outcome.ran) throw new CollectorBusyError();
      return outcome.value;
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  /**
   * Runs every ARTIFACTSTORE_GC_INTERVAL_SECONDS (never when 0), the first run one interval after the start. A
   * mirror never collects on its own: its removals are its source's, copied with the log.
   */
  schedule(): void {
    const seconds = this.config.gcIntervalSeconds;
    if (seconds === 0 || this.config.followUrl !== '' || this.timer || this.stopping.signal.aborted) return;
    this.timer = setInterval(() => {
      this.run().then(
        (report) => {
          if (report.expired_count > 0 || report.collected.blobs > 0) {
            this.logger.log(
              `expired ${report.expired_count} packages, collected ${report.collected.blobs} blobs ` +
                `(${report.collected.bytes} bytes) in ${report.duration_ms} ms`,
            );
          }
        },
        (error: unknown) => {
          if (error instanceof CollectorBusyError) return; // another process collects this round
          if (!this.stopping.signal.aborted)
            this.logger.warn(`garbage collection failed: ${describe(error)}`);
        },
      );
    }, seconds * 1000).unref();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping.abort();
    clearInterval(this.timer);
    // A run stops at its next batch; it must not use a database that is closing.
    await this.queue;
  }

  private async runOnce(dryRun: boolean, actor: string): Promise<GcReport> {
    const startedAt = performance.now();
    const started = this.clock.now();
    const now = formatTimestamp(new Date(started));
    const expired: { id: string; reason: ExpiryReason }[] = [];
    let expiredCount = 0;
    const onExpired = (id: string, reason: ExpiryReason): void => {
      expiredCount++;
      if (expired.length < MAX_LISTED_EXPIRIES) expired.push({ id, reason });
    };
    await this.expireByRetention(now, dryRun, actor, onExpired);
    await this.expireAbandoned(started, dryRun, actor, onExpired);
    const kept = await this.database.read((tx) => this.countKept(tx, now));
    // From now, not from the start: with a grace of 0, what this run expired is collected by this run.
    const graceCutoff = this.clock.now() - this.config.gcGraceSeconds * 1000;
    const collected = { blobs: 0, bytes: 0 };
    const counted = dryRun ? new Set<string>() : undefined;
    const onCollected = (blob: Candidate): void => {
      collected.blobs++;
      collected.bytes += blob.size;
    };
    await this.collectRemoved(formatTimestamp(new Date(graceCutoff)), dryRun, actor, onCollected, counted);
    const stored = await this.collectOrphans(graceCutoff, dryRun, actor, onCollected);
    // Temp files and staging objects of dead ingests, by their own rule (their storage times, not the clock).
    if (!dryRun) await this.blobStore.sweepLeftovers();
    const durationMs = Math.round(performance.now() - startedAt);
    if (!dryRun) {
      this.totals = {
        runs: this.totals.runs + 1,
        expiredPackages: this.totals.expiredPackages + expiredCount,
        collectedBlobs: this.totals.collectedBlobs + collected.blobs,
        collectedBytes: this.totals.collectedBytes + collected.bytes,
        lastDurationMs: durationMs,
        storedBlobs: stored.blobs - collected.blobs,
        storedBytes: stored.bytes - collected.bytes,
      };
    }
    return {
      dry_run: dryRun,
      expired,
      expired_count: expiredCount,
      collected,
      kept,
      duration_ms: durationMs,
    };
  }

  /**
   * Finalized packages whose deadline passed, a batch per transaction. Under the append lock the query itself is
   * the check: a package held, released, re-classed or deleted meanwhile is simply not selected.
   */
  private async expireByRetention(
    now: string,
    dryRun: boolean,
    actor: string,
    onExpired: (id: string, reason: ExpiryReason) => void,
  ): Promise<void> {
    const keep = this.config.keepLatestPerName;
    const sql = (after: boolean): string =>
      `${RETENTION_DUE}${keep > 0 ? ` AND ${HAS_KEEP_NEWER}` : ''}${after ? ' AND (r.expires_at, p.id) > (?, ?)' : ''}
        ORDER BY r.expires_at, p.id LIMIT ?`;
    let cursor: [string, string] | undefined;
    for (;;) {
      this.stopping.signal.throwIfAborted();
      const params = [now, ...(keep > 0 ? [keep, keep] : []), ...(cursor ?? []), EXPIRE_BATCH];
      const rows = await this.unit(dryRun, async (tx) => {
        const due = await tx.query(sql(cursor !== undefined), params);
        if (!dryRun) {
          for (const row of due) {
            const expiresAt = asTimestamp(row.expires_at);
            await this.projector.appendAndApply(
              tx,
              packageExpiredEvent(actor, asString(row.id), { reason: 'retention', expires_at: expiresAt }),
            );
          }
        }
        return due;
      });
      for (const row of rows) onExpired(asString(row.id), 'retention');
      const last = rows.at(-1);
      if (rows.length < EXPIRE_BATCH || !last) return;
      cursor = [asTimestamp(last.expires_at), asString(last.id)];
    }
  }

  /** Packages still `created` ARTIFACTSTORE_ABANDONED_AFTER_HOURS after their last event. */
  private async expireAbandoned(
    started: number,
    dryRun: boolean,
    actor: string,
    onExpired: (id: string, reason: ExpiryReason) => void,
  ): Promise<void> {
    const afterMs = this.config.abandonedAfterHours * 3_600_000;
    const cutoff = formatTimestamp(new Date(started - afterMs));
    let cursor: [string, string] | undefined;
    for (;;) {
      this.stopping.signal.throwIfAborted();
      const sql = `${ABANDONED_DUE}${cursor ? ' AND (p.created_at, p.id) > (?, ?)' : ''}
        ORDER BY p.created_at, p.id LIMIT ?`;
      const params = [cutoff, ...(cursor ?? []), EXPIRE_BATCH];
      const rows = await this.unit(dryRun, async (tx) => {
        const due = await tx.query(sql, params);
        if (!dryRun) {
          for (const row of due) {
            const deadline = formatTimestamp(new Date(Date.parse(asTimestamp(row.last_event_at)) + afterMs));
            await this.projector.appendAndApply(
              tx,
              packageExpiredEvent(actor, asString(row.id), { reason: 'abandoned', expires_at: deadline }),
            );
          }
        }
        return due;
      });
      for (const row of rows) onExpired(asString(row.id), 'abandoned');
      const last = rows.at(-1);
      if (rows.length < EXPIRE_BATCH || !last) return;
      cursor = [asTimestamp(last.created_at), asString(last.id)];
    }
  }

  private async countKept(tx: Tx, now: string): Promise<{ held: number; tagged: number; latest: number }> {
    const count = async (sql: string, params: unknown[]): Promise<number> =>
      asNumber((await tx.query(`SELECT count(*) AS n FROM (${sql}) AS kept`, params))[0]?.n ?? 0);
    const overdue = `SELECT p.id FROM retention_state r JOIN artifact_packages p ON p.id = r.package_id
      WHERE r.expires_at <= ? AND p.status = 'finalized'`;
    const held = await count(`${overdue} AND p.held = 1`, [now]);
    const tagged = await count(
      `${overdue} AND p.held = 0 AND EXISTS (SELECT 1 FROM tags t WHERE t.package_id = p.id)`,
      [now],
    );
    const keep = this.config.keepLatestPerName;
    const latest =
      keep === 0 ? 0 : await count(`${RETENTION_DUE} AND NOT ${HAS_KEEP_NEWER}`, [now, keep, keep]);
    return { held, tagged, latest };
  }

  /**
   * Blobs of removed packages: the removed packages are walked a page at a time (by id), and their blobs (by key,
   * ADR 0018) collected when no live package uses them and every package that did was removed before the cutoff.
   * A dry run counts each blob once (`counted`).
   */
  private async collectRemoved(
    cutoff: string,
    dryRun: boolean,
    actor: string,
    onCollected: (blob: Candidate) => void,
    counted: Set<string> | undefined,
  ): Promise<void> {
    let after = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      this.stopping.signal.throwIfAborted();
      await setImmediate();
      const candidates = await this.database.read(async (tx) => {
        const packages = await tx.query(
          `SELECT id FROM artifact_packages WHERE status IN ('expired', 'deleted') AND removed_at <= ? AND id > ?
            ORDER BY id LIMIT ?`,
          [cutoff, after, PACKAGE_PAGE],
        );
        const ids = packages.map((row) => asString(row.id));
        const rows =
          ids.length === 0
            ? []
            : await tx.query(
                `SELECT DISTINCT s.key, f.size FROM artifact_files f JOIN storage_locations s ON s.file_id = f.id
                  WHERE f.package_id IN (${ids.map(() => '?').join(', ')})`,
                ids,
              );
        return { last: ids.at(-1), blobs: rows.map(toCandidate) };
      });
      const fresh = counted ? candidates.blobs.filter((blob) => !counted.has(blob.key)) : candidates.blobs;
      for (let start = 0; start < fresh.length; start += COLLECT_BATCH) {
        const batch = fresh.slice(start, start + COLLECT_BATCH);
        for (const blob of await this.collect(batch, cutoff, dryRun, actor, 'removed')) {
          counted?.add(blob.key);
          onCollected(blob);
        }
      }
      if (candidates.last === undefined) return;
      after = candidates.last;
    }
  }

  /**
   * Orphans: blobs in storage that no storage location names, last written before the cutoff. Returns what the
   * walk found in storage, collected or not.
   */
  private async collectOrphans(
    cutoffMs: number,
    dryRun: boolean,
    actor: string,
    onCollected: (blob: Candidate) => void,
  ): Promise<{ blobs: number; bytes: number }> {
    const stored = { blobs: 0, bytes: 0 };
    const cutoff = formatTimestamp(new Date(cutoffMs));
    let batch: StoredBlob[] = [];
    const flush = async (): Promise<void> => {
      this.stopping.signal.throwIfAborted();
      const keys = batch.map((blob) => blob.key);
      await setImmediate();
      const named = await this.database.read((tx) => this.namedKeys(tx, keys));
      const orphans = batch
        .filter((blob) => !named.has(blob.key))
        .map((blob) => ({ key: blob.key, size: blob.size }));
      batch = [];
      for (let start = 0; start < orphans.length; start += COLLECT_BATCH) {
        const chunk = orphans.slice(start, start + COLLECT_BATCH);
        for (const blob of await this.collect(chunk, cutoff, dryRun, actor, 'orphan')) onCollected(blob);
      }
    };
    for await (const blob of this.blobStore.listWithSizes()) {
      stored.blobs++;
      stored.bytes += blob.size;
      if (!BLOB_KEY.test(blob.key) || blob.modifiedAt > cutoffMs) continue;
      batch.push(blob);
      if (batch.length === ORPHAN_BATCH) await flush();
    }
    if (batch.length > 0) await flush();
    return stored;
  }

  /**
   * Decides and deletes, in one write transaction holding the append lock: of `candidates`, the blobs that are
   * still collectable as the views show them now are deleted from storage, then recorded as `v1.blob.collected`,
   * before the commit. A dry run decides the same way in a read-only snapshot and deletes nothing.
   */
  private async collect(
    candidates: readonly Candidate[],
    cutoff: string,
    dryRun: boolean,
    actor: string,
    kind: 'removed' | 'orphan',
  ): Promise<Candidate[]> {
    if (candidates.length === 0) return [];
    return this.unit(dryRun, async (tx) => {
      const keys = candidates.map((blob) => blob.key);
      const collectable =
        kind === 'orphan'
          ? await this.unnamed(tx, candidates)
          : await this.unusedSince(tx, keys, cutoff).then((unused) =>
              candidates.filter((blob) => unused.has(blob.key)),
            );
      if (dryRun || collectable.length === 0) return collectable;
      await forEachLimited(collectable, DELETE_CONCURRENCY, (blob) => this.blobStore.delete(blob.key));
      for (const blob of collectable) {
        await this.projector.appendAndApply(
          tx,
          blobCollectedEvent(actor, {
            blake3: Buffer.from(blob.key, 'hex'),
            size: blob.size,
            storage: { backend: this.blobStore.backend, key: blob.key },
          }),
        );
      }
      return collectable;
    });
  }

  /**
   * Of `keys`, those named by storage locations only of packages removed at or before `cutoff`. Driven by the
   * keys (an index lookup each, then every location of those keys), never by the whole table.
   */
  private async unusedSince(tx: Tx, keys: readonly string[], cutoff: string): Promise<Set<string>> {
    const rows = await tx.query(
      `SELECT s.key, max(CASE WHEN p.status IN ${LIVE} OR p.removed_at > ? THEN 1 ELSE 0 END) AS used
        FROM storage_locations s
        JOIN artifact_files f ON f.id = s.file_id
        JOIN artifact_packages p ON p.id = f.package_id
        WHERE s.key IN (${keys.map(() => '?').join(', ')})
        GROUP BY s.key`,
      [cutoff, ...keys],
    );
    return new Set(rows.filter((row) => asNumber(row.used) === 0).map((row) => asString(row.key)));
  }

  /** Of `candidates`, those no storage location names now. */
  private async unnamed(tx: Tx, candidates: readonly Candidate[]): Promise<Candidate[]> {
    const named = await this.namedKeys(
      tx,
      candidates.map((blob) => blob.key),
    );
    return candidates.filter((blob) => !named.has(blob.key));
  }

  private async namedKeys(tx: Tx, keys: readonly string[]): Promise<Set<string>> {
    if (keys.length === 0) return new Set();
    const rows = await tx.query(
      `SELECT DISTINCT key FROM storage_locations WHERE key IN (${keys.map(() => '?').join(', ')})`,
      keys,
    );
    return new Set(rows.map((row) => asString(row.key)));
  }

  /**
   * A write transaction holding the append lock, or for a dry run a read-only snapshot, after a turn of the event
   * loop (SQLite's statements run on the main thread, and back-to-back transactions would starve every request);
   * a write is followed by a pause as long as itself, so that the collector takes at most half of the lock.
   */
  private async unit<T>(dryRun: boolean, work: (tx: Tx) => Promise<T>): Promise<T> {
    await setImmediate();
    if (dryRun) return this.database.read(work);
    const started = performance.now();
    const result = await this.database.write(async (tx) => {
      await this.eventLog.lockAppends(tx);
      return work(tx);
    });
    // Half the time at most: as long again as the unit held the lock, uploads' commits have it to themselves.
    await sleep(performance.now() - started);
    return result;
  }
}

interface Candidate {
  readonly key: string;
  readonly size: number;
}

function toCandidate(row: Row): Candidate {
  return { key: asString(row.key), size: asNumber(row.size) };
}

async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
