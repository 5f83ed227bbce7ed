import type { Event } from './event.js';
import { Wakeups } from './wakeups.js';

/** Events the feed keeps in memory for tails that are a little behind: at most this many … */
const FEED_MAX_EVENTS = 10_000;
/** … and at most about this many bytes of payload. */
const FEED_MAX_BYTES = 64 * 1024 * 1024;
/** Rows per read of the log, by the feed and by a tail catching up on history. */
export const FEED_READ_BATCH = 500;

/**
 * A tail that fell so far behind that the events after its cursor left the feed's memory before it took them.
 * It ends with this instead of slowing every other tail down; the client resumes from `resumeAfter` (the last
 * sequence it was given), which reads the missed events from the database.
 */
export class TailOverrunError extends Error {
  override readonly name = 'TailOverrunError';
  readonly code = 'tail_overrun';

  constructor(readonly resumeAfter: number) {
    super(`the tail fell too far behind the log; resume after sequence ${resumeAfter}`);
  }
}

export interface FollowOptions {
  /** The longest this tail waits for an event committed by another process (the feed polls at the shortest). */
  readonly pollIntervalMs: number;
  /** Aborting ends the iteration cleanly. */
  readonly signal: AbortSignal;
  /** Most events per batch (default FEED_READ_BATCH). */
  readonly maxBatch?: number;
}

/** Where the feed reads from: committed events after a sequence, and the highest committed sequence. */
export interface FeedSource {
  fetchSince(since: number, limit: number): Promise<Event[]>;
  headSequence(): Promise<number>;
  /** Called before each wait of the feed, e.g. to (re)connect a LISTEN connection; must not throw. */
  beforeWait?(): Promise<void>;
}

/** One open tail: how long it may wait for another process's commit, and how to wake it. */
interface Follower {
  readonly pollIntervalMs: number;
  /** Resolves the tail's wait, if it is waiting. */
  wake(): void;
}

/**
 * One reader of the log per process, however many tails are open. It reads what committed after its head when
 * woken (by this process's commits, by PostgreSQL NOTIFY, or by its poll) and keeps the latest events in memory;
 * each tail takes them from there with its own cursor, at its own pace. A commit therefore costs one read of
 * the log, not one per tail; a slow tail never holds the feed or the other tails back, and one that falls behind
 * what memory holds ends with TailOverrunError. A tail that starts behind the feed reads its history from the
 * database itself, then joins.
 */
export class EventFeed {
  private readonly wakeups = new Wakeups();
  /** Recent events, ascending; those before `start` are dropped and awaiting compaction. */
  private events: Event[] = [];
  private start = 0;
  private bytes = 0;
  /** Every committed event in (floor, head] is in `events`. */
  private floor = 0;
  private head = 0;
  private starting: Promise<void> | undefined;
  private readonly followers = new Set<Follower>();
  /** Counts the feed's announcements, so a tail can tell whether the latest came after it began to wait. */
  private announcements = 0;
  /** Why the feed's latest read failed; undefined once one succeeds. */
  private failure: Error | undefined;
  private closed = false;
  private databaseReads = 0;

  constructor(private readonly source: FeedSource) {}

  /** Tails open now. */
  get size(): number {
    return this.followers.size;
  }

  /** Reads of the log this process made for its tails: the feed's own and those of tails catching up. */
  get reads(): number {
    return this.databaseReads;
  }

  /** The log may have grown: read it now instead of at the next poll. */
  wake(): void {
    this.wakeups.wakeAll();
  }

  /** Ends every tail and the feed. */
  close(): void {
    this.closed = true;
    this.wakeups.wakeAll();
    for (const follower of this.followers) follower.wake();
  }

  /**
   * Batches of the events after `since`, in order, as they commit, until the consumer stops or the signal aborts.
   * Never misses nor repeats an event: commit order is sequence order, and the feed reads by sequence.
   *
   * An iterator of our own rather than an async generator: when the feed announces new events, each waiting tail
   * takes its batch and settles its consumer's promise at once, one step per tail, which is what delivering to a
   * thousand tails costs.
   */
  follow(since: number, options: FollowOptions): AsyncIterableIterator<Event[]> {
    const maxBatch = options.maxBatch ?? FEED_READ_BATCH;
    let cursor = since;
    let joined = false;
    let finished = false;
    let waiting:
      | {
          readonly resolve: (result: IteratorResult<Event[]>) => void;
          readonly reject: (error: Error) => void;
          readonly announcements: number;
        }
      | undefined;
    const done = (): IteratorResult<Event[]> => ({ done: true, value: undefined });
    const stopped = (): boolean => options.signal.aborted || this.closed;

    const finish = (): void => {
      if (finished) return;
      finished = true;
      options.signal.removeEventListener('abort', onStop);
      this.followers.delete(follower);
      // The last tail gone: let the feed's loop see it now rather than at its next poll.
      if (this.followers.size === 0) this.wakeups.wakeAll();
    };
    /** The batch in memory after the cursor, if any, moving the cursor past it. */
    const take = (): Event[] | undefined => {
      const batch = this.after(cursor, maxBatch);
      const last = batch.at(-1);
      if (last === undefined) return undefined;
      cursor = last.sequence;
      return batch;
    };
    /** Settles a waiting consumer when the feed announces, the signal aborts or the feed closes. */
    const settle = (): void => {
      const pending = waiting;
      if (pending === undefined) return;
      waiting = undefined;
      if (stopped()) {
        finish();
        pending.resolve(done());
      } else if (this.announcements !== pending.announcements && this.failure !== undefined) {
        finish();
        pending.reject(this.failure);
      } else if (cursor < this.floor) {
        finish();
        pending.reject(new TailOverrunError(cursor));
      } else {
        const batch = take();
        if (batch === undefined) waiting = { ...pending, announcements: this.announcements };
        else pending.resolve({ done: false, value: batch });
      }
    };
    const follower: Follower = { pollIntervalMs: options.pollIntervalMs, wake: settle };
    const onStop = (): void => {
      settle();
      if (waiting === undefined) finish();
    };

    /** Until the tail has joined the feed: start it, and read history from the database. */
    const catchUp = async (): Promise<IteratorResult<Event[]>> => {
      try {
        await this.started();
        while (!stopped() && cursor < this.floor) {
          this.databaseReads += 1;
          const history = await this.source.fetchSince(cursor, maxBatch);
          const last = history.at(-1);
          if (last === undefined) break; // nothing committed between the cursor and the feed's floor
          cursor = last.sequence;
          return { done: false, value: history };
        }
      } catch (error) {
        finish();
        throw error;
      }
      joined = true;
      return next();
    };

    const next = (): Promise<IteratorResult<Event[]>> => {
      if (finished || stopped()) {
        finish();
        return Promise.resolve(done());
      }
      if (!joined) return catchUp();
      if (cursor < this.floor) {
        finish();
        return Promise.reject(new TailOverrunError(cursor));
      }
      const batch = take();
      if (batch !== undefined) return Promise.resolve({ done: false, value: batch });
      // Nothing new: wait for the feed's next announcement (or the stop).
      return new Promise((resolve, reject) => {
        waiting = { resolve, reject, announcements: this.announcements };
      });
    };

    options.signal.addEventListener('abort', onStop);
    this.followers.add(follower);
    return {
      next,
      return: (): Promise<IteratorResult<Event[]>> => {
        const pending = waiting;
        waiting = undefined;
        finish();
        pending?.resolve(done());
        return Promise.resolve(done());
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  /** Starts the feed once, at the log's head; a failed start is retried by the next tail. */
  private started(): Promise<void> {
    this.starting ??= (async () => {
      const head = await this.source.headSequence();
      this.databaseReads += 1;
      this.floor = head;
      this.head = head;
      void this.run();
    })().catch((error: unknown) => {
      this.starting = undefined;
      throw error;
    });
    return this.starting;
  }

  /** The feed's loop: read, fan out, wait; it stops, forgetting what it held, when the last tail has gone. */
  private async run(): Promise<void> {
    const wakeup = this.wakeups.subscribe();
    try {
      while (this.followers.size > 0 && !this.closed) {
        await this.readNew();
        if (this.followers.size === 0) break;
        await this.source.beforeWait?.();
        await wakeup.wait(this.shortestPoll());
      }
    } finally {
      wakeup.close();
      this.events = [];
      this.start = 0;
      this.bytes = 0;
      this.starting = undefined;
      this.announce(undefined);
    }
  }

  private shortestPoll(): number {
    let shortest = Infinity;
    for (const follower of this.followers) shortest = Math.min(shortest, follower.pollIntervalMs);
    return shortest;
  }

  /** Reads everything committed after the head, in batches, announcing each; a failure is announced to tails. */
  private async readNew(): Promise<void> {
    try {
      for (;;) {
        this.databaseReads += 1;
        const batch = await this.source.fetchSince(this.head, FEED_READ_BATCH);
        this.keep(batch);
        if (batch.length > 0) this.announce(undefined);
        if (batch.length < FEED_READ_BATCH) return;
      }
    } catch (failure) {
      this.announce(failure instanceof Error ? failure : new Error(String(failure)));
    }
  }

  private keep(batch: readonly Event[]): void {
    for (const event of batch) {
      this.events.push(event);
      this.bytes += sizeOf(event);
      this.head = event.sequence;
    }
    while (this.events.length - this.start > FEED_MAX_EVENTS || this.bytes > FEED_MAX_BYTES) {
      const dropped = this.events[this.start];
      if (dropped === undefined) break;
      this.start += 1;
      this.bytes -= sizeOf(dropped);
      this.floor = dropped.sequence;
    }
    if (this.start > 1024 && this.start * 2 > this.events.length) {
      this.events = this.events.slice(this.start);
      this.start = 0;
    }
  }

  /** Wakes every waiting tail: new events are in memory, or (with `failure`) the read failed. */
  private announce(failure: Error | undefined): void {
    this.announcements += 1;
    this.failure = failure;
    for (const follower of this.followers) follower.wake();
  }

  /** Up to `limit` events in memory after `cursor` (a binary search: events are in sequence order). */
  private after(cursor: number, limit: number): Event[] {
    let low = this.start;
    let high = this.events.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.events[middle]?.sequence ?? Infinity) <= cursor) low = middle + 1;
      else high = middle;
    }
    return this.events.slice(low, low + limit);
  }
}

function sizeOf(event: Event): number {
  return event.payload.length + 256;
}
