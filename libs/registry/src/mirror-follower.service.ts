import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { parseTimestamp } from '@artifactstore/codec';
import { AppConfig, Clock } from '@artifactstore/config';
import { BlobStore, type IngestReceipt } from '@artifactstore/dataplane';
import { Database } from '@artifactstore/db';
import { EventLog, InvalidEventError, type Event } from '@artifactstore/events';
import {
  BLOB_COLLECTED,
  FILE_INGESTED,
  ViewProjector,
  readBlobCollected,
  readFileIngested,
} from '@artifactstore/views';

/**
 * `following`: copying (or caught up); `standby`: another process on this database follows (PostgreSQL), this one
 * takes over when it stops; `retrying`: the last attempt failed (the source unreachable or behind, a blob that did
 * not verify, …) and the mirror tries again; `diverged`: the source's log does not extend this one, so the mirror
 * stopped for good and never overwrites its own log.
 */
export type MirrorState = 'starting' | 'following' | 'standby' | 'retrying' | 'diverged';

export interface MirrorStatus {
  readonly source: string;
  readonly state: MirrorState;
  /** This mirror's head sequence. */
  readonly head_sequence: number;
  /** The source's head as last seen. */
  readonly source_head_sequence: number | null;
  readonly lag_events: number | null;
  /** How long ago the source committed the oldest event this mirror has not applied yet (0 when caught up). */
  readonly lag_seconds: number;
  readonly detail: string | null;
}

/** Totals since the process started, for metrics. */
export interface MirrorCounters {
  readonly eventsCopied: number;
  readonly blobsCopied: number;
  readonly blobBytesCopied: number;
  /** Blobs of packages the source had already removed when the mirror came to them: nothing to copy. */
  readonly blobsUnavailable: number;
}

/** Events per request to the source; each page is applied in as few transactions as its blob removals allow. */
const PAGE_SIZE = 500;
/** Seconds a request for new events waits at the source when there are none. */
const LONG_POLL_SECONDS = 20;
/** Blobs fetched at once while a page is copied. */
const BLOB_FETCHES = 4;
const MAX_BACKOFF_MS = 30_000;
/** PostgreSQL advisory lock held by the one process of a mirror's database that follows. */
const MIRROR_LOCK_KEY = 7_021_802_726;
/** A page whose copy took longer than this may have been overtaken by the source: its head is asked again. */
const SLOW_PAGE_MS = 1_000;
/** How often a standby process tries to become the follower. */
const STANDBY_RETRY_MS = 5_000;

/** The source's log does not extend this mirror's. */
export class MirrorDivergedError extends Error {
  readonly code = 'mirror_diverged';
  override readonly name = 'MirrorDivergedError';
}

interface EventJsonWithPayload {
  sequence: number;
  event_type: string;
  subject_kind: string;
  subject_id: string;
  actor: string;
  created_at: string;
  payload_digest: string;
  chain_digest: string;
  payload_cbor?: string;
}

/**
 * A mirror: with ARTIFACTSTORE_FOLLOW_URL set, the server copies another artifactstore's log, event by event, from
 * its own head: for each page of events it fetches the blobs that `v1.file.ingested` events name (verified against
 * their BLAKE3 and size as they are stored), then appends the very same events (EventLog.importEvents checks that
 * each payload digest and chain digest continues this log) and applies their views in one transaction. A
 * `v1.blob.collected` ends a transaction, after which its blob is deleted here too. The mirror's log is therefore
 * the source's, byte for byte, at every common head; killed at any point, it resumes from its own head.
 */
@Injectable()
export class MirrorFollower implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('mirror');
  private readonly stopping = new AbortController();
  private running: Promise<void> | undefined;
  private state: MirrorState = 'starting';
  private detail: string | null = null;
  private headSequence = 0;
  private sourceHead: number | null = null;
  private pendingSince: number | null = null;
  /** When the source last answered, for the lag while it does not. */
  private lastContact: number | null = null;
  private counters = { eventsCopied: 0, blobsCopied: 0, blobBytesCopied: 0, blobsUnavailable: 0 };

  constructor(
    private readonly database: Database,
    private readonly eventLog: EventLog,
    private readonly projector: ViewProjector,
    private readonly blobStore: BlobStore,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  /** Whether this server is a mirror (ARTIFACTSTORE_FOLLOW_URL). */
  get enabled(): boolean {
    return this.config.followUrl !== '';
  }

  onApplicationBootstrap(): void {
    if (!this.enabled) return;
    this.logger.log(`following ${this.config.followUrl}`);
    this.running = this.run();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping.abort();
    await this.running;
  }

  status(): MirrorStatus {
    const lagEvents = this.sourceHead === null ? null : Math.max(0, this.sourceHead - this.headSequence);
    return {
      source: this.config.followUrl,
      state: this.state,
      head_sequence: this.headSequence,
      source_head_sequence: this.sourceHead,
      lag_events: lagEvents,
      lag_seconds: this.lagSeconds(lagEvents),
      detail: this.detail,
    };
  }

  /**
   * How long ago the source committed the oldest event not applied here; while the source does not answer, at
   * least how long ago it last did (a mirror cut off is as far behind as it has been out of touch).
   */
  private lagSeconds(lagEvents: number | null): number {
    const now = this.clock.now();
    const pending = this.pendingSince === null || lagEvents === 0 ? 0 : now - this.pendingSince;
    const silent = this.state === 'retrying' && this.lastContact !== null ? now - this.lastContact : 0;
    return Math.max(0, pending, silent) / 1000;
  }

  get totals(): MirrorCounters {
    return { ...this.counters };
  }

  private stopped(): boolean {
    return this.stopping.signal.aborted;
  }

  private async run(): Promise<void> {
    while (!this.stopped()) {
      // One process per database follows (PostgreSQL: an advisory lock; SQLite has one process); the others wait.
      const outcome = await this.database
        .exclusively(MIRROR_LOCK_KEY, () => this.followWithRetries())
        .catch((error: unknown) => {
          this.state = 'retrying';
          this.detail = error instanceof Error ? error.message : String(error);
          return { ran: false as const };
        });
      if (outcome.ran || this.stopped()) return;
      if (this.state !== 'retrying') this.state = 'standby';
      await sleep(STANDBY_RETRY_MS, undefined, { signal: this.stopping.signal }).catch(() => undefined);
    }
  }

  /** Follows until stopped or diverged, starting again after every failure with a growing pause. */
  private async followWithRetries(): Promise<void> {
    let backoffMs = 0;
    while (!this.stopped()) {
      try {
        await this.follow(() => {
          backoffMs = 0;
          this.lastContact = this.clock.now();
        });
      } catch (error) {
        if (this.stopped()) return;
        if (error instanceof MirrorDivergedError) {
          this.state = 'diverged';
          this.detail = error.message;
          this.logger.error(`stopped: ${error.message}`);
          return;
        }
        this.state = 'retrying';
        this.detail = error instanceof Error ? error.message : String(error);
        backoffMs = Math.min(MAX_BACKOFF_MS, Math.max(1_000, backoffMs * 2));
        this.logger.warn(`${this.detail}; trying again in ${backoffMs / 1000} s`);
        await sleep(backoffMs, undefined, { signal: this.stopping.signal }).catch(() => undefined);
      }
    }
  }

  /** Copies until stopped; throws on the first failure. `progressed` is called after every answer of the source. */
  private async follow(progressed: () => void): Promise<void> {
    let head = await this.eventLog.headEvent();
    this.headSequence = head?.sequence ?? 0;
    if (head !== undefined) await this.checkSourceHas(head);
    this.state = 'following';
    this.detail = null;
    while (!this.stopped()) {
      const page = await this.fetchEvents(head?.sequence ?? 0, PAGE_SIZE, LONG_POLL_SECONDS);
      progressed();
      const first = page[0];
      if (first === undefined) {
        this.sourceHead = this.headSequence;
        this.pendingSince = null;
        continue;
      }
      this.pendingSince = parseTimestamp(first.created_at);
      const copyStarted = this.clock.now();
      head = await this.copy(page);
      this.headSequence = head.sequence;
      // A short page reached the source's head as it was when asked; a full page, or one whose blobs took long,
      // may have been overtaken meanwhile, so the source is asked where it is now.
      if (page.length === PAGE_SIZE || this.clock.now() - copyStarted > SLOW_PAGE_MS)
        await this.refreshSourceHead();
      if ((this.sourceHead ?? 0) <= head.sequence) {
        this.sourceHead = head.sequence;
        this.pendingSince = null;
      } else {
        // The next event was committed after the last one applied: its time bounds the lag from above.
        this.pendingSince = parseTimestamp(head.created_at);
      }
    }
  }

  /** Divergence: the source must hold this mirror's head event, with the same chain digest. */
  private async checkSourceHas(head: Event): Promise<void> {
    const [theirs] = await this.fetchEvents(head.sequence - 1, 1, 0);
    if (theirs === undefined) {
      // Behind, not different (a mirror upstream catching up, a restored source): wait for it.
      throw new Error(`the source has no event ${head.sequence} yet, this mirror's head: waiting for it`);
    }
    if (theirs.sequence !== head.sequence) {
      throw new MirrorDivergedError(
        `the source skips event ${head.sequence}, this mirror's head, and has ${theirs.sequence} after it`,
      );
    }
    if (!theirs.chain_digest.equals(head.chain_digest)) {
      throw new MirrorDivergedError(
        `event ${head.sequence} has chain digest ${theirs.chain_digest.toString('hex')} at the source and ` +
          `${head.chain_digest.toString('hex')} here`,
      );
    }
  }

  /** Appends `page` (with the blobs it needs) and returns the new head event. */
  private async copy(page: readonly Event[]): Promise<Event> {
    let group: Event[] = [];
    for (const event of page) {
      group.push(event);
      if (event.event_type === BLOB_COLLECTED) {
        await this.commit(group);
        group = [];
        await this.deleteCollected(event);
      }
    }
    await this.commit(group);
    const last = page.at(-1);
    if (last === undefined) throw new Error('an empty page has no head');
    return last;
  }

  /** Fetches the blobs `events` need, then appends them and applies their views in one transaction. */
  private async commit(events: readonly Event[]): Promise<void> {
    if (events.length === 0) return;
    const receipts: IngestReceipt[] = [];
    try {
      const ingested = events.filter((event) => event.event_type === FILE_INGESTED);
      for (let at = 0; at < ingested.length; at += BLOB_FETCHES) {
        const fetched = await Promise.allSettled(
          ingested.slice(at, at + BLOB_FETCHES).map((event) => this.fetchBlob(event)),
        );
        // Every stored blob's staging copy is released below, even when one of its neighbours failed.
        for (const outcome of fetched) {
          if (outcome.status === 'fulfilled' && outcome.value !== undefined) receipts.push(outcome.value);
        }
        const failed = fetched.find((outcome) => outcome.status === 'rejected');
        if (failed !== undefined) throw failed.reason;
      }
      await this.database
        .write((tx) => this.projector.importAndApply(tx, events))
        .catch((error: unknown) => {
          if (error instanceof InvalidEventError) throw new MirrorDivergedError(error.message);
          throw error;
        });
      this.counters.eventsCopied += events.length;
    } finally {
      for (const receipt of receipts) await this.blobStore.releaseStaging(receipt);
    }
  }

  /** Stores the blob of a `v1.file.ingested` unless it is here already; undefined when nothing was stored. */
  private async fetchBlob(event: Event): Promise<IngestReceipt | undefined> {
    const file = readFileIngested(event);
    // Stored under the same key in this store's own backend, whichever the source uses (ADR 0018).
    if (await this.blobStore.exists(file.storage.key)) return undefined;
    const response = await this.request(`/v1/files/${file.file_id}`);
    if (response.status === 410) {
      // The package was removed at the source before this mirror came to it: its files are not served any more, and
      // the log says so a few events on. A live package with the same bytes gets them through its own event.
      await response.body?.cancel();
      this.counters.blobsUnavailable++;
      return undefined;
    }
    if (response.status !== 200 || response.body === null) {
      await response.body?.cancel();
      throw new Error(`GET /v1/files/${file.file_id} at the source answered ${response.status}`);
    }
    const receipt = await this.blobStore.ingest(
      Readable.fromWeb(response.body as WebReadableStream<Uint8Array>),
      {
        expectedSize: file.size,
        expectedBlake3: file.blake3,
      },
    );
    this.counters.blobsCopied++;
    this.counters.blobBytesCopied += file.size;
    return receipt;
  }

  /** After a committed `v1.blob.collected`: its bytes go here too, unless a file of this store still names them. */
  private async deleteCollected(event: Event): Promise<void> {
    const { storage } = readBlobCollected(event);
    const [named] = await this.database.read((tx) =>
      tx.query('SELECT 1 AS named FROM storage_locations WHERE key = ? LIMIT 1', [storage.key]),
    );
    if (named === undefined) await this.blobStore.delete(storage.key);
  }

  private async refreshSourceHead(): Promise<void> {
    const response = await this.request('/readyz');
    const body = (await response.json()) as { head_sequence?: unknown };
    if (typeof body.head_sequence === 'number') this.sourceHead = body.head_sequence;
  }

  private async fetchEvents(since: number, limit: number, waitSeconds: number): Promise<Event[]> {
    const response = await this.request(
      `/v1/events?since=${since}&limit=${limit}&wait=${waitSeconds}&include=payload`,
    );
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new Error(`GET /v1/events at the source answered ${response.status}`);
    }
    const body = (await response.json()) as { events: EventJsonWithPayload[] };
    return body.events.map(toEvent);
  }

  private request(path: string): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.config.followToken !== '') headers.authorization = `Bearer ${this.config.followToken}`;
    return fetch(`${this.config.followUrl}${path}`, { headers, signal: this.stopping.signal });
  }
}

function toEvent(json: EventJsonWithPayload): Event {
  if (json.payload_cbor === undefined)
    throw new Error('the source does not serve event payloads (include=payload)');
  return {
    sequence: json.sequence,
    event_type: json.event_type,
    subject_kind: json.subject_kind,
    subject_id: json.subject_id,
    actor: json.actor,
    created_at: json.created_at,
    payload: Buffer.from(json.payload_cbor, 'base64'),
    payload_digest: Buffer.from(json.payload_digest, 'hex'),
    chain_digest: Buffer.from(json.chain_digest, 'hex'),
  };
}
