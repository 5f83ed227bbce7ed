/**
 * A FIFO async mutex. SQLite has one writer, and TypeORM's better-sqlite3 driver hands every caller the same
 * connection, so two overlapping transactions would silently nest as savepoints; every SQLite unit of work runs
 * under one of these instead (docs/adr/0002-one-writer-and-commit-order.md).
 */
export class Mutex {
  private last: Promise<void> = Promise.resolve();

  async runExclusive<T>(work: () => Promise<T>): Promise<T> {
    const previous = this.last;
    let release: () => void = () => undefined;
    this.last = new Promise<void>((resolve) => {
      release = resolve;
    });
    await previous;
    try {
      return await work();
    } finally {
      release();
    }
  }
}
