import { Mutex, Semaphore } from './async-mutex.js';

function gate(): { opened: Promise<void>; open(): void } {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('Semaphore', () => {
  it('refuses fewer than one permit', () => {
    expect(() => new Semaphore(0)).toThrow(RangeError);
    expect(() => new Semaphore(1.5)).toThrow(RangeError);
  });

  it('lets at most `permits` run at once and the rest in arrival order', async () => {
    const semaphore = new Semaphore(2);
    const gates = [gate(), gate(), gate(), gate()];
    const started: number[] = [];
    const runs = gates.map((g, i) =>
      semaphore.run(async () => {
        started.push(i);
        await g.opened;
        return i;
      }),
    );
    await tick();
    expect(started).toEqual([0, 1]);
    expect([semaphore.held, semaphore.queued]).toEqual([2, 2]);
    gates[1]?.open();
    await tick();
    expect(started).toEqual([0, 1, 2]);
    gates[0]?.open();
    gates[2]?.open();
    gates[3]?.open();
    expect(await Promise.all(runs)).toEqual([0, 1, 2, 3]);
    expect([semaphore.held, semaphore.queued]).toEqual([0, 0]);
  });

  it('gives the permit back when the work throws', async () => {
    const semaphore = new Semaphore(1);
    await expect(semaphore.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(semaphore.held).toBe(0);
    await expect(semaphore.run(() => Promise.resolve('next'))).resolves.toBe('next');
  });
});

describe('Mutex', () => {
  it('runs one at a time and reports its state', async () => {
    const mutex = new Mutex();
    const first = gate();
    const order: string[] = [];
    const a = mutex.runExclusive(async () => {
      order.push('a');
      await first.opened;
      order.push('a done');
    });
    const b = mutex.runExclusive(() => {
      order.push('b');
      return Promise.resolve();
    });
    await tick();
    expect([mutex.locked, mutex.queued]).toEqual([true, 1]);
    first.open();
    await Promise.all([a, b]);
    expect(order).toEqual(['a', 'a done', 'b']);
    expect([mutex.locked, mutex.queued]).toEqual([false, 0]);
  });
});
