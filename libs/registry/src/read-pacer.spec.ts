import { ReadPacer } from './read-pacer.js';

const MIB = 1024 * 1024;

/** A clock that moves only when the pacer sleeps, or when the test says so. */
function fakeTime(): {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  slept: number[];
  advance: (ms: number) => void;
} {
  let now = 1_000_000;
  const slept: number[] = [];
  return {
    now: () => now,
    sleep: (ms) => {
      slept.push(ms);
      now += ms;
      return Promise.resolve();
    },
    slept,
    advance: (ms) => {
      now += ms;
    },
  };
}

describe('ReadPacer', () => {
  const signal = new AbortController().signal;

  it('keeps the average at the rate: 10 MiB at 2 MiB/s take 5 s', async () => {
    const time = fakeTime();
    const pacer = new ReadPacer(2 * MIB, time.now, time.sleep);
    const start = time.now();
    for (let i = 0; i < 10; i++) await pacer.pace(MIB, signal);
    expect(time.now() - start).toBe(5000);
    expect(time.slept).toEqual(Array.from({ length: 10 }, () => 500));
  });

  it('counts the time reading took: a slow read waits only for the rest', async () => {
    const time = fakeTime();
    const pacer = new ReadPacer(MIB, time.now, time.sleep);
    await pacer.pace(MIB, signal);
    time.advance(400);
    await pacer.pace(MIB, signal);
    expect(time.slept).toEqual([1000, 600]);
  });

  it('does not wait while reading is slower than the rate', async () => {
    const time = fakeTime();
    const pacer = new ReadPacer(100 * MIB, time.now, time.sleep);
    await pacer.pace(MIB, signal);
    time.advance(50);
    await pacer.pace(MIB, signal);
    time.advance(50);
    await pacer.pace(MIB, signal);
    expect(time.slept).toEqual([10]);
  });

  it('forgives at most a second of idle time, so that a pause is not followed by a long burst', async () => {
    const time = fakeTime();
    const pacer = new ReadPacer(MIB, time.now, time.sleep);
    await pacer.pace(MIB, signal);
    time.advance(60_000);
    // 60 s idle: the pacer starts over instead of letting 60 MiB through at once.
    await pacer.pace(MIB, signal);
    await pacer.pace(MIB, signal);
    expect(time.slept).toEqual([1000, 1000, 1000]);
    time.advance(900);
    // 0.9 s idle is credit: the next MiB is due 0.1 s from now.
    await pacer.pace(MIB, signal);
    expect(time.slept.at(-1)).toBe(100);
  });

  it('passes the abort signal to the sleep', async () => {
    const stop = new AbortController();
    const signals: AbortSignal[] = [];
    const pacer = new ReadPacer(
      MIB,
      () => 0,
      (_ms, given) => {
        signals.push(given);
        return Promise.reject(given.reason as Error);
      },
    );
    stop.abort(new Error('stopping'));
    await expect(pacer.pace(MIB, stop.signal)).rejects.toThrow('stopping');
    expect(signals).toEqual([stop.signal]);
  });

  it('refuses a rate that is not positive', () => {
    expect(() => new ReadPacer(0)).toThrow(RangeError);
  });
});
