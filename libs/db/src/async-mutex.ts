/** A FIFO async semaphore: at most `permits` holders at once, the others queue in arrival order. */
export class Semaphore {
  private available: number;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly permits: number) {
    if (!Number.isSafeInteger(permits) || permits < 1)
      throw new RangeError('a semaphore needs at least 1 permit');
    this.available = permits;
  }

  /** Permits held now. */
  get held(): number {
    return this.permits - this.available;
  }

  /** Callers queued for a permit. */
  get queued(): number {
    return this.waiting.length;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.available > 0) {
      this.available--;
    } else {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.available++;
    }
  }
}

/**
 * A FIFO async mutex. SQLite has one writer, and TypeORM's better-sqlite3 driver hands every caller the same
 * connection, so two overlapping transactions would silently nest as savepoints; every SQLite unit of work runs
 * under one of these instead (docs/adr/0003-units-of-work.md).
 */
export class Mutex {
  private readonly semaphore = new Semaphore(1);

  runExclusive<T>(work: () => Promise<T>): Promise<T> {
    return this.semaphore.run(work);
  }

  get locked(): boolean {
    return this.semaphore.held > 0;
  }

  get queued(): number {
    return this.semaphore.queued;
  }
}
