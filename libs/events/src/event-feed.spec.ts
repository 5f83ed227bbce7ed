import type { Event } from './event.js';
import { EventFeed, type FeedSource, TailOverrunError } from './event-feed.js';

/** An in-memory log with gaps in its sequences (as PostgreSQL's may have), counting reads. */
class FakeLog implements FeedSource {
  readonly events: Event[] = [];
  reads = 0;
  failNext = 0;
  private next = 1;

  append(count = 1): void {
    for (let i = 0; i < count; i++) {
      this.events.push(eventAt(this.next));
      this.next += this.next % 7 === 0 ? 2 : 1; // a gap now and then
    }
  }

  fetchSince(since: number, limit: number): Promise<Event[]> {
    this.reads += 1;
    if (this.failNext > 0) {
      this.failNext -= 1;
      return Promise.reject(new Error('connection refused'));
    }
    return Promise.resolve(this.events.filter((event) => event.sequence > since).slice(0, limit));
  }

  headSequence(): Promise<number> {
    return Promise.resolve(this.events.at(-1)?.sequence ?? 0);
  }
}

function eventAt(sequence: number): Event {
  return {
    sequence,
    event_type: 'v1.test',
    subject_kind: 'test',
    subject_id: String(sequence),
    actor: 'a',
    payload: Buffer.alloc(8),
    payload_digest: Buffer.alloc(32),
    chain_digest: Buffer.alloc(32),
    created_at: '2026-01-01T00:00:00.000Z',
  };
}

/** Takes `count` events from a tail, then stops it. */
async function take(
  feed: EventFeed,
  since: number,
  count: number,
  signal: AbortSignal,
  maxBatch?: number,
): Promise<number[]> {
  const seen: number[] = [];
  if (count === 0) return seen;
  for await (const batch of feed.follow(since, { pollIntervalMs: 60_000, signal, maxBatch })) {
    seen.push(...batch.map((event) => event.sequence));
    if (seen.length >= count) break;
  }
  return seen;
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1_000 && !condition(); i++) await new Promise((resolve) => setImmediate(resolve));
  expect(condition()).toBe(true);
}

describe('EventFeed', () => {
  let log: FakeLog;
  let feed: EventFeed;
  let stop: AbortController;

  beforeEach(() => {
    log = new FakeLog();
    feed = new EventFeed(log);
    stop = new AbortController();
  });

  afterEach(() => {
    stop.abort();
    feed.close();
  });

  it('reads the log once per commit, however many tails wait', async () => {
    log.append(3);
    // From the head: no history to read, only what commits next.
    const tails = Array.from({ length: 200 }, () => take(feed, 3, 10, stop.signal));
    await until(() => feed.size === 200);
    const before = log.reads;
    for (let i = 0; i < 10; i++) {
      log.append();
      feed.wake();
      await until(() => log.reads === before + i + 1);
    }
    const seen = await Promise.all(tails);
    const expected = log.events.slice(3).map((event) => event.sequence);
    for (const sequences of seen) expect(sequences).toEqual(expected);
    expect(log.reads - before).toBe(10);
    await until(() => feed.size === 0);
  });

  it('lets a tail that starts behind read its history, then join, missing and repeating nothing', async () => {
    log.append(1_234);
    const head = log.events.at(-1)?.sequence ?? 0;
    const live = take(feed, head, 5, stop.signal);
    await until(() => feed.size === 1);
    const behind = take(feed, 0, 1_239, stop.signal, 100);
    log.append(5);
    feed.wake();
    const all = log.events.map((event) => event.sequence);
    expect(await behind).toEqual(all);
    expect(await live).toEqual(all.slice(-5));
  });

  it('ends a tail that falls too far behind with TailOverrunError, without holding the others back', async () => {
    log.append(1);
    const iterator = feed.follow(1, { pollIntervalMs: 60_000, signal: stop.signal, maxBatch: 1 });
    const first = iterator.next();
    await until(() => feed.size === 1);
    log.append(1);
    feed.wake();
    const batch = (await first).value as Event[];
    expect(batch.map((event) => event.sequence)).toEqual([2]);
    const brisk = take(feed, 2, 12_000, stop.signal);
    log.append(12_000);
    feed.wake();
    expect(await brisk).toHaveLength(12_000);
    await expect(iterator.next()).rejects.toThrow(TailOverrunError);
    await expect(iterator.next()).resolves.toEqual({ done: true, value: undefined });
  });

  it('fails the waiting tails when a read fails, and serves new ones once the log answers again', async () => {
    log.append(2);
    const waiting = take(feed, 2, 1, stop.signal);
    await until(() => feed.size === 1);
    log.failNext = 1;
    log.append();
    feed.wake();
    await expect(waiting).rejects.toThrow('connection refused');
    const again = take(feed, 2, 2, stop.signal);
    await until(() => feed.size === 1);
    log.append();
    feed.wake();
    expect(await again).toEqual(log.events.slice(2).map((event) => event.sequence));
  });

  it('stops reading when the last tail leaves, and ends open tails when closed', async () => {
    log.append(1);
    await take(feed, 0, 1, stop.signal);
    await until(() => feed.size === 0);
    const reads = log.reads;
    log.append(3);
    feed.wake();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(log.reads).toBe(reads);
    const open = take(feed, 4, 1, stop.signal);
    await until(() => feed.size === 1);
    feed.close();
    expect(await open).toEqual([]);
    expect(feed.size).toBe(0);
  });
});
