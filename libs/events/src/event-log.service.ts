import { setImmediate as nextTurn } from 'node:timers/promises';
import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { blake3, formatTimestamp, type Timestamp } from '@artifactstore/codec';
import { AppConfig, Clock } from '@artifactstore/config';
import { asBytes, asNumber, asString, asTimestamp, Database, type Row, type Tx } from '@artifactstore/db';
import { chainDigest, GENESIS_CHAIN_DIGEST } from './chain-digest.js';
import { InvalidEventError, makeEventFromEncodedPayload, type Event, type EventDraft } from './event.js';
import { EventFeed, FEED_READ_BATCH } from './event-feed.js';
import { EVENTS_CHANNEL, PgListener } from './pg-listener.js';
import type { ViewWriter } from './view-writer.js';

/**
 * The key of the PostgreSQL advisory lock that serializes appends (and replay): the ASCII of "artifact".
 * Only artifactstore's own database uses it.
 */
const APPEND_LOCK_KEY = '7021802725052392308';

/** The end of the log as seen by an open append transaction. */
interface Head {
  sequence: number;
  chain_digest: Buffer;
  created_at: Timestamp;
}

export interface TailOptions {
  /**
   * The longest to wait for an event committed by another process when no wake-up arrives (default:
   * ARTIFACTSTORE_TAIL_POLL_INTERVAL_MS); the process's one reader polls at the shortest any open tail asks for.
   */
  pollIntervalMs?: number;
  /** Aborting ends the iteration cleanly. */
  signal?: AbortSignal;
  /** Most events per batch, for `tailBatches` (default 500). */
  maxBatch?: number;
}

export interface ReplayOptions {
  /** Empty the views first (default true). */
  reset?: boolean;
  /** Events read per query (default 1000). */
  batchSize?: number;
  /** Runs in the replay's transaction, under the append lock, before the reset (e.g. to digest the old views). */
  before?: (tx: Tx) => Promise<void>;
  /** Runs in the replay's transaction, under the append lock, after the last event was applied. */
  after?: (tx: Tx) => Promise<void>;
  /**
   * Called after each batch with the sequence of the last event applied, for progress reports. A throw from it ends
   * the replay, rolled back (how a replay is cancelled).
   */
  onProgress?: (sequence: number) => void;
}

export interface VerifyChainOptions {
  /** Events read per query (default 1000). */
  batchSize?: number;
  /** Called after each batch with the sequence of the last event checked; a throw from it ends the verification. */
  onProgress?: (sequence: number) => void;
}

export type ChainVerification =
  | {
      readonly ok: true;
      readonly eventsChecked: number;
      readonly headSequence: number;
      /** The chain digest of the last event checked (the genesis digest for an empty log). */
      readonly headChainDigest: Buffer;
    }
  | {
      readonly ok: false;
      readonly eventsChecked: number;
      readonly sequence: number;
      readonly problem: 'payload_digest' | 'chain_digest';
    };

const EVENT_COLUMNS =
  'sequence, event_type, subject_kind, subject_id, actor, payload, payload_digest, chain_digest, created_at';
const INSERT_SQLITE = `INSERT INTO events (${EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`;
const INSERT_POSTGRES = `INSERT INTO events (${EVENT_COLUMNS}) OVERRIDING SYSTEM VALUE VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`;
const SELECT_SINCE = `SELECT ${EVENT_COLUMNS} FROM events WHERE sequence > ? ORDER BY sequence LIMIT ?`;
const SELECT_FIRST_OF_SUBJECT = `SELECT ${EVENT_COLUMNS} FROM events
  WHERE subject_kind = ? AND subject_id = ? AND event_type = ? ORDER BY sequence LIMIT 1`;
const SELECT_HEAD = 'SELECT sequence, chain_digest, created_at FROM events ORDER BY sequence DESC LIMIT 1';

/**
 * The append-only event log. Appends are serialized so that commit order equals sequence order (a reader that has
 * seen sequence N has seen every committed event below N): on PostgreSQL by a transaction-scoped advisory lock,
 * on SQLite by its single writer (docs/adr/0002-one-writer-and-commit-order.md).
 */
@Injectable()
export class EventLog implements OnApplicationShutdown {
  /** The process's one reader for all its tails; closed at shutdown, so tails end instead of reading on. */
  private readonly feed: EventFeed;
  private readonly listener: PgListener | undefined;
  /** The head of each open append transaction, so a batch of appends reads it once. */
  private readonly heads = new WeakMap<Tx, Head>();
  private committedAppends = 0;

  constructor(
    private readonly database: Database,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {
    const target = config.database;
    this.listener =
      target.dialect === 'postgres'
        ? new PgListener(target.url, () => {
            this.feed.wake();
          })
        : undefined;
    this.feed = new EventFeed({
      fetchSince: (since, limit) => this.fetchSince(since, limit),
      headSequence: () => this.headSequence(),
      beforeWait: () => this.listener?.ensureStarted() ?? Promise.resolve(),
    });
  }

  /**
   * Takes the append lock for the rest of `tx` (a no-op on SQLite, whose writer is already exclusive). A unit of
   * work that locks view rows before appending must call this first, or it can deadlock with a replay.
   */
  async lockAppends(tx: Tx): Promise<void> {
    await this.headOf(tx);
  }

  /** The head of the log as `tx` sees it, taking the append lock on first use. */
  private async headOf(tx: Tx): Promise<Head> {
    const known = this.heads.get(tx);
    if (known) return known;
    if (tx.dialect === 'postgres') {
      // Pipelined with the head's read: the server runs that only once the lock is held, in a snapshot of its own
      // (READ COMMITTED), so it sees the previous holder's commit; one round trip for both.
      tx.send(`SELECT pg_advisory_xact_lock(${APPEND_LOCK_KEY}), pg_notify('${EVENTS_CHANNEL}', '')`);
    }
    // Read the head only once the lock is held, so it includes the previous holder's commit.
    const [row] = await tx.query(SELECT_HEAD);
    const head: Head = row
      ? {
          sequence: asNumber(row.sequence),
          chain_digest: asBytes(row.chain_digest),
          created_at: asTimestamp(row.created_at),
        }
      : { sequence: 0, chain_digest: GENESIS_CHAIN_DIGEST, created_at: formatTimestamp(new Date(0)) };
    this.heads.set(tx, head);
    tx.afterCommit(() => {
      this.feed.wake();
    });
    return head;
  }

  /**
   * Appends `draft` in the caller's transaction and returns the stored event. Assigns the next sequence and a
   * created_at that never goes below the previous event's, even if the clock steps back.
   */
  async append(tx: Tx, draft: EventDraft): Promise<Event> {
    // A hand-built draft with a wrong digest would poison the chain for good; one BLAKE3 pass is cheap insurance.
    if (!blake3(draft.payload).equals(draft.payload_digest)) {
      throw new InvalidEventError('payload_digest does not match the payload');
    }
    const head = await this.headOf(tx);
    // Under the append lock the head is the last committed event, so the next sequence is known without asking.
    const sequence = head.sequence + 1;
    const now = formatTimestamp(new Date(this.clock.now()));
    const created_at = now > head.created_at ? now : head.created_at;
    const event: Event = {
      sequence,
      event_type: draft.event_type,
      subject_kind: draft.subject_kind,
      subject_id: draft.subject_id,
      actor: draft.actor,
      payload: draft.payload,
      payload_digest: draft.payload_digest,
      created_at,
      chain_digest: chainDigest(head.chain_digest, { ...draft, sequence, created_at }),
    };
    this.insert(tx, event);
    tx.afterCommit(() => {
      this.committedAppends++;
    });
    return event;
  }

  /**
   * Appends events that were stored elsewhere (another database's log), keeping their sequences, timestamps and
   * digests, after checking that they continue this log's chain: each payload digest and chain digest is
   * recomputed, sequences must increase and timestamps must not go back. Views are not touched; replay them.
   */
  async importEvents(tx: Tx, events: readonly Event[]): Promise<void> {
    for (const event of events) {
      const head = await this.headOf(tx);
      // Checks the header's shape and that the payload is canonical, and digests it.
      const { payload_digest } = makeEventFromEncodedPayload(event, event.payload);
      const problem =
        event.sequence <= head.sequence
          ? `sequence ${event.sequence} does not follow ${head.sequence}`
          : event.created_at < head.created_at
            ? `created_at ${event.created_at} goes back`
            : !payload_digest.equals(event.payload_digest)
              ? 'payload_digest does not match the payload'
              : !chainDigest(head.chain_digest, event).equals(event.chain_digest)
                ? 'chain_digest does not continue the chain'
                : undefined;
      if (problem) throw new InvalidEventError(`cannot import event ${event.sequence}: ${problem}`);
      this.insert(tx, event);
    }
  }

  private insert(tx: Tx, event: Event): void {
    tx.send(tx.dialect === 'postgres' ? INSERT_POSTGRES : INSERT_SQLITE, [
      event.sequence,
      event.event_type,
      event.subject_kind,
      event.subject_id,
      event.actor,
      event.payload,
      event.payload_digest,
      event.chain_digest,
      event.created_at,
    ]);
    this.heads.set(tx, {
      sequence: event.sequence,
      chain_digest: event.chain_digest,
      created_at: event.created_at,
    });
  }

  /** Up to `limit` committed events with sequence > `since`, in order. */
  fetchSince(since: number, limit: number): Promise<Event[]> {
    return this.database.read((tx) => this.readSince(tx, since, limit));
  }

  /** Like fetchSince, inside the caller's transaction. */
  async readSince(tx: Tx, since: number, limit: number): Promise<Event[]> {
    const rows = await tx.query(SELECT_SINCE, [since, limit]);
    return rows.map(toEvent);
  }

  /** The first event of `eventType` about a subject, inside the caller's transaction (the subject index). */
  async firstOfSubject(
    tx: Tx,
    subjectKind: string,
    subjectId: string,
    eventType: string,
  ): Promise<Event | undefined> {
    const [row] = await tx.query(SELECT_FIRST_OF_SUBJECT, [subjectKind, subjectId, eventType]);
    return row === undefined ? undefined : toEvent(row);
  }

  /** The last committed event, or undefined for an empty log. */
  async headEvent(): Promise<Event | undefined> {
    const [row] = await this.database.read((tx) =>
      tx.query(`SELECT ${EVENT_COLUMNS} FROM events ORDER BY sequence DESC LIMIT 1`),
    );
    return row === undefined ? undefined : toEvent(row);
  }

  /** The highest committed sequence (0 for an empty log). */
  async headSequence(): Promise<number> {
    const [row] = await this.database.read((tx) => tx.query('SELECT MAX(sequence) AS head FROM events'));
    return row?.head === null || row?.head === undefined ? 0 : asNumber(row.head);
  }

  /**
   * Every event after `since` as it commits, forever (until the consumer breaks or `signal` aborts). Never misses
   * nor repeats an event: it reads by sequence, and commit order is sequence order. All tails of a process share
   * one reader of the log (EventFeed), woken on PostgreSQL NOTIFY and on this process's own commits, polling as a
   * fallback; a tail that falls too far behind it ends with TailOverrunError. Ends with nothing left behind.
   */
  async *tail(since: number, options: TailOptions = {}): AsyncGenerator<Event, void, undefined> {
    for await (const batch of this.tailBatches(since, options)) yield* batch;
  }

  /** Like `tail`, a batch at a time: everything already committed after the cursor, up to `maxBatch`. */
  tailBatches(since: number, options: TailOptions = {}): AsyncIterableIterator<Event[]> {
    return this.feed.follow(since, {
      pollIntervalMs: options.pollIntervalMs ?? this.config.tailPollIntervalMs,
      signal: options.signal ?? NEVER,
      maxBatch: options.maxBatch ?? FEED_READ_BATCH,
    });
  }

  /** Reads of the log this process made for its tails (for benchmarks: one per commit, however many tails). */
  get tailReads(): number {
    return this.feed.reads;
  }

  /** Events this process appended whose transaction committed (for metrics; imports and replays not counted). */
  get appendedEvents(): number {
    return this.committedAppends;
  }

  /** Number of tails currently open in this process (for metrics and leak tests). */
  get openTails(): number {
    return this.feed.size;
  }

  /**
   * Rebuilds views from the whole log in one transaction, reading it in batches, and returns the highest sequence
   * applied. Holds the append lock throughout, so no event commits mid-replay and none is lost or applied twice.
   */
  replay(viewWriter: ViewWriter, options: ReplayOptions = {}): Promise<number> {
    const { reset = true, batchSize = 1000, before, after, onProgress } = options;
    return this.database.write(async (tx) => {
      await this.lockAppends(tx);
      await before?.(tx);
      if (reset) await viewWriter.reset(tx);
      let cursor = 0;
      for (;;) {
        const batch = await this.readSince(tx, cursor, batchSize);
        if (viewWriter.applyBatch) {
          await viewWriter.applyBatch(tx, batch);
        } else {
          for (const event of batch) await viewWriter.apply(tx, event);
        }
        cursor = batch.at(-1)?.sequence ?? cursor;
        onProgress?.(cursor);
        if (batch.length < batchSize) break;
        // SQLite's driver is synchronous: without a turn of the event loop between batches, nothing else (health
        // checks, reads) would be served until the whole log had been replayed.
        await nextTurn();
      }
      await after?.(tx);
      return cursor;
    });
  }

  /**
   * Recomputes every payload digest and the chain, and names the first event that does not match. Reads in
   * batches, each its own snapshot; the log is append-only, so the batches join up.
   */
  async verifyChain(options: VerifyChainOptions = {}): Promise<ChainVerification> {
    const { batchSize = 1000, onProgress } = options;
    let previous = GENESIS_CHAIN_DIGEST;
    let cursor = 0;
    let eventsChecked = 0;
    for (;;) {
      const batch = await this.fetchSince(cursor, batchSize);
      for (const event of batch) {
        // Rows come in sequence order (ORDER BY the primary key), so only the digests need checking.
        const problem = !blake3(event.payload).equals(event.payload_digest)
          ? 'payload_digest'
          : !chainDigest(previous, event).equals(event.chain_digest)
            ? 'chain_digest'
            : undefined;
        if (problem) return { ok: false, eventsChecked, sequence: event.sequence, problem };
        previous = event.chain_digest;
        cursor = event.sequence;
        eventsChecked++;
      }
      onProgress?.(cursor);
      if (batch.length < batchSize) {
        return { ok: true, eventsChecked, headSequence: cursor, headChainDigest: previous };
      }
      await nextTurn(); // as in replay: let the server answer between batches
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.feed.close();
    await this.listener?.close();
  }
}

/** The signal of a tail that only its consumer ends. */
const NEVER = new AbortController().signal;

function toEvent(row: Row): Event {
  return {
    sequence: asNumber(row.sequence),
    event_type: asString(row.event_type),
    subject_kind: asString(row.subject_kind),
    subject_id: asString(row.subject_id),
    actor: asString(row.actor),
    payload: asBytes(row.payload),
    payload_digest: asBytes(row.payload_digest),
    chain_digest: asBytes(row.chain_digest),
    created_at: asTimestamp(row.created_at),
  };
}
