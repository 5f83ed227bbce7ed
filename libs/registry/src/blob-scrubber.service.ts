import type { Readable } from 'node:stream';
import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { formatTimestamp } from '@artifactstore/codec';
import { AppConfig, Clock } from '@artifactstore/config';
import { BlobNotFoundError, BlobStore, IntegrityError, type StoredBlob } from '@artifactstore/dataplane';
import { Database, asNumber, asString, type Row, type Tx } from '@artifactstore/db';
import { EventLog } from '@artifactstore/events';
import { ViewProjector, blobDamagedEvent, type BlobDamageKind } from '@artifactstore/views';
import { checkLabel } from './input-rules.js';
import { ReadPacer } from './read-pacer.js';

export type ScrubState = 'idle' | 'running' | 'done' | 'failed';

/** `missing` and `mismatch` are blobs of live files; `orphaned` are bytes in storage that no file names. */
export type ScrubFindingKind = BlobDamageKind | 'orphaned';

export interface ScrubFinding {
  /** The blob's key: the lowercase hex BLAKE3 its bytes should have. */
  readonly blake3: string;
  readonly kind: ScrubFindingKind;
  /** The size the files record (`missing`, `mismatch`) or the size in storage (`orphaned`). */
  readonly size: number;
}

/** The progress and findings of this process's last scrub pass (or of the one running). */
export interface ScrubStatus {
  readonly state: ScrubState;
  readonly started_at: string | null;
  readonly finished_at: string | null;
  /** Blobs of live files read and verified so far, and their bytes read. */
  readonly checked: { readonly blobs: number; readonly bytes: number };
  readonly missing: number;
  /** Blobs whose size or BLAKE3 is wrong (findings of kind `mismatch`). */
  readonly damaged: number;
  readonly orphaned: number;
  /** The first MAX_LISTED_FINDINGS findings; the counts above are complete. */
  readonly findings: readonly ScrubFinding[];
  /** Why the pass failed; null unless `state` is `failed`. */
  readonly error: string | null;
}

const MAX_LISTED_FINDINGS = 1000;
/** Blobs of live files read from the views per query. */
const LIVE_PAGE = 500;
/** Stored blobs checked against the views per query while looking for orphans. */
const ORPHAN_BATCH = 500;
const MIB = 1024 * 1024;
const BLOB_KEY = /^[0-9a-f]{64}$/;
const LIVE = `('created', 'finalized')`;

/**
 * Keys of live files after a key, in key order: one row per key (GROUP BY), so a pass sees each once. Locations are
 * matched by key alone: a store keeps each blob once, in its own backend, whichever backend its log names (ADR 0018).
 * `(p.status || '')`: no index on status for this query, so that the key index drives it (SQLite otherwise starts
 * from the status index and reads every live file for each page).
 */
const LIVE_BLOBS = `SELECT s.key, MIN(f.size) AS size FROM storage_locations s
  JOIN artifact_files f ON f.id = s.file_id
  JOIN artifact_packages p ON p.id = f.package_id
  WHERE s.key > ? AND (p.status || '') IN ${LIVE}
  GROUP BY s.key ORDER BY s.key LIMIT ?`;

/** A page of the scrub's walk: the keys of live files after `after`, in key order, with a size each. */
export function liveBlobsAfter(tx: Tx, after: string, limit: number): Promise<Row[]> {
  return tx.query(LIVE_BLOBS, [after, limit]);
}

const IS_LIVE = `SELECT 1 AS live FROM storage_locations s
  JOIN artifact_files f ON f.id = s.file_id
  JOIN artifact_packages p ON p.id = f.package_id
  WHERE s.key = ? AND p.status IN ${LIVE} LIMIT 1`;

const IDLE: ScrubStatus = {
  state: 'idle',
  started_at: null,
  finished_at: null,
  checked: { blobs: 0, bytes: 0 },
  missing: 0,
  damaged: 0,
  orphaned: 0,
  findings: [],
  error: null,
};

/**
 * The scrub: a background pass over the stored blobs that tells an operator about bit rot before a user meets it.
 * First every blob of a live file in this backend (a storage location of a `created` or `finalized` package) is
 * read whole through the verifying `BlobStore.open`, at most ARTIFACTSTORE_SCRUB_MAX_MIBS MiB per second: absent,
 * it is `missing`; of the wrong size or BLAKE3, `mismatch`. Each such finding is appended as `v1.blob.damaged`, in
 * a write transaction holding the append lock after the views, read under that lock, still showed the blob live
 * (and, for `missing`, storage still without it: a file commit puts a collected blob back). Then every blob in
 * storage that no storage location names is counted `orphaned`, with no event: the garbage collector removes
 * those (an upload not committed yet counts too).
 *
 * One pass at a time per process; the status stays in memory until the next pass starts.
 */
@Injectable()
export class BlobScrubber implements OnModuleDestroy {
  private readonly logger = new Logger('scrub');
  private readonly stopping = new AbortController();
  private progress: ScrubProgress | undefined;
  private pass: Promise<void> | undefined;

  constructor(
    private readonly database: Database,
    private readonly eventLog: EventLog,
    private readonly projector: ViewProjector,
    private readonly blobStore: BlobStore,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  /** The running pass's progress, else the last pass's outcome, else `idle`. */
  get status(): ScrubStatus {
    return this.progress?.snapshot() ?? IDLE;
  }

  /**
   * Starts a pass in the background unless one is running (then it only answers); returns the status either way.
   * `actor` is who the events of the pass name: the admin who asked.
   */
  start(actor: string): ScrubStatus {
    const checkedActor = checkLabel('actor', actor);
    if (this.pass === undefined && !this.stopping.signal.aborted) {
      const progress = new ScrubProgress(this.timestamp());
      this.progress = progress;
      this.pass = this.scrub(checkedActor, progress)
        .then(
          () => {
            progress.finish(this.timestamp());
            const found = progress.missing + progress.damaged + progress.orphaned;
            const summary =
              `checked ${progress.blobs} blobs (${progress.bytes} bytes): ${progress.missing} missing, ` +
              `${progress.damaged} damaged, ${progress.orphaned} orphaned`;
            if (found > 0) this.logger.warn(summary);
            else this.logger.log(summary);
          },
          (error: unknown) => {
            const reason = this.stopping.signal.aborted
              ? 'the server stopped during the pass'
              : describe(error);
            progress.fail(this.timestamp(), reason);
            if (!this.stopping.signal.aborted) this.logger.warn(`scrub failed: ${reason}`);
          },
        )
        .finally(() => {
          this.pass = undefined;
        });
    }
    return this.status;
  }

  /** The status once no pass is running. */
  async settled(): Promise<ScrubStatus> {
    await this.pass;
    return this.status;
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping.abort();
    // The pass stops at its next chunk or query; it must not use a database that is closing.
    await this.pass;
  }

  private async scrub(actor: string, progress: ScrubProgress): Promise<void> {
    const pacer = new ReadPacer(this.config.scrubMaxMibs * MIB);
    await this.checkLiveBlobs(actor, progress, pacer);
    await this.findOrphans(progress);
  }

  /** Keyset pages by key: a key is visited once, so a pass never records the same finding twice. */
  private async checkLiveBlobs(actor: string, progress: ScrubProgress, pacer: ReadPacer): Promise<void> {
    let after = '';
    for (;;) {
      this.stopping.signal.throwIfAborted();
      const rows = await this.database.read((tx) => liveBlobsAfter(tx, after, LIVE_PAGE));
      for (const row of rows) {
        const key = asString(row.key);
        const size = asNumber(row.size);
        const damage = await this.check(key, size, progress, pacer);
        progress.blobs++;
        if (damage !== undefined && (await this.record(actor, key, damage))) {
          progress.add({ blake3: key, kind: damage, size });
        }
      }
      const last = rows.at(-1);
      if (rows.length < LIVE_PAGE || !last) return;
      after = asString(last.key);
    }
  }

  /** Reads the blob whole, verified and paced; what is wrong with it, or undefined when nothing is. */
  private async check(
    key: string,
    size: number,
    progress: ScrubProgress,
    pacer: ReadPacer,
  ): Promise<BlobDamageKind | undefined> {
    let bytes: Readable;
    try {
      bytes = await this.blobStore.open(key);
    } catch (error) {
      if (error instanceof BlobNotFoundError) return 'missing';
      throw error;
    }
    let read = 0;
    try {
      for await (const chunk of bytes as AsyncIterable<Buffer>) {
        read += chunk.length;
        progress.bytes += chunk.length;
        await pacer.pace(chunk.length, this.stopping.signal);
      }
    } catch (error) {
      if (error instanceof IntegrityError) return 'mismatch';
      throw error;
    } finally {
      bytes.destroy();
    }
    return read === size ? undefined : 'mismatch';
  }

  /**
   * Appends `v1.blob.damaged` when, under the append lock, the blob is still of a live file and (for `missing`)
   * still absent; returns whether it did. Otherwise the finding is stale: the collector removed the blob meanwhile,
   * or a file commit put it back.
   */
  private record(actor: string, key: string, kind: BlobDamageKind): Promise<boolean> {
    return this.database.write(async (tx) => {
      await this.eventLog.lockAppends(tx);
      if (!(await this.isLive(tx, key))) return false;
      if (kind === 'missing' && (await this.blobStore.exists(key))) return false;
      await this.projector.appendAndApply(
        tx,
        blobDamagedEvent(actor, { blake3: Buffer.from(key, 'hex'), kind }),
      );
      return true;
    });
  }

  private async isLive(tx: Tx, key: string): Promise<boolean> {
    const rows = await tx.query(IS_LIVE, [key]);
    return rows.length > 0;
  }

  /** Walks storage a batch at a time (never all keys in memory), counting blobs no storage location names. */
  private async findOrphans(progress: ScrubProgress): Promise<void> {
    let batch: StoredBlob[] = [];
    const flush = async (): Promise<void> => {
      this.stopping.signal.throwIfAborted();
      const keys = batch.map((blob) => blob.key);
      const named = await this.database.read((tx) => this.namedKeys(tx, keys));
      for (const blob of batch) {
        if (!named.has(blob.key)) progress.add({ blake3: blob.key, kind: 'orphaned', size: blob.size });
      }
      batch = [];
    };
    for await (const blob of this.blobStore.listWithSizes()) {
      if (!BLOB_KEY.test(blob.key)) continue;
      batch.push(blob);
      if (batch.length === ORPHAN_BATCH) await flush();
    }
    if (batch.length > 0) await flush();
  }

  private async namedKeys(tx: Tx, keys: readonly string[]): Promise<Set<string>> {
    const rows = await tx.query(
      `SELECT DISTINCT key FROM storage_locations WHERE key IN (${keys.map(() => '?').join(', ')})`,
      keys,
    );
    return new Set(rows.map((row) => asString(row.key)));
  }

  private timestamp(): string {
    return formatTimestamp(new Date(this.clock.now()));
  }
}

/** One pass's counters, updated as it goes. */
class ScrubProgress {
  state: ScrubState = 'running';
  finishedAt: string | null = null;
  blobs = 0;
  bytes = 0;
  missing = 0;
  damaged = 0;
  orphaned = 0;
  error: string | null = null;
  private readonly findings: ScrubFinding[] = [];

  constructor(private readonly startedAt: string) {}

  add(finding: ScrubFinding): void {
    switch (finding.kind) {
      case 'missing':
        this.missing++;
        break;
      case 'mismatch':
        this.damaged++;
        break;
      case 'orphaned':
        this.orphaned++;
        break;
    }
    if (this.findings.length < MAX_LISTED_FINDINGS) this.findings.push(finding);
  }

  finish(at: string): void {
    this.state = 'done';
    this.finishedAt = at;
  }

  fail(at: string, error: string): void {
    this.state = 'failed';
    this.finishedAt = at;
    this.error = error;
  }

  snapshot(): ScrubStatus {
    return {
      state: this.state,
      started_at: this.startedAt,
      finished_at: this.finishedAt,
      checked: { blobs: this.blobs, bytes: this.bytes },
      missing: this.missing,
      damaged: this.damaged,
      orphaned: this.orphaned,
      findings: [...this.findings],
      error: this.error,
    };
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
