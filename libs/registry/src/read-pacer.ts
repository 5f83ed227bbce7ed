import { setTimeout as sleep } from 'node:timers/promises';

/** Waits `ms` milliseconds, or rejects when `signal` aborts first. */
export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;

/** A monotonic clock in milliseconds. */
export type MonotonicNow = () => number;

/**
 * Idle time the pacer forgives: after a pause (a slow query, a small blob) reading may run ahead of the rate by at
 * most this much, instead of bursting to catch up with all the time spent idle.
 */
const MAX_CREDIT_MS = 1000;

/**
 * Keeps a reader's average under a rate: after each chunk, `pace` waits until the bytes read so far are due at
 * `bytesPerSecond`. Every byte is paid for; only idle time beyond MAX_CREDIT_MS is forgotten.
 */
export class ReadPacer {
  private origin: number | undefined;
  private bytes = 0;

  constructor(
    private readonly bytesPerSecond: number,
    private readonly now: MonotonicNow = () => performance.now(),
    private readonly wait: Sleep = (ms, signal) => sleep(ms, undefined, { signal }),
  ) {
    if (!(bytesPerSecond > 0)) throw new RangeError(`bytesPerSecond must be positive, got ${bytesPerSecond}`);
  }

  /** Counts `bytes` just read and waits, when reading is ahead of the rate, until they are due. */
  async pace(bytes: number, signal: AbortSignal): Promise<void> {
    const now = this.now();
    if (this.origin === undefined || this.dueAt() < now - MAX_CREDIT_MS) {
      this.origin = now;
      this.bytes = 0;
    }
    this.bytes += bytes;
    const ahead = this.dueAt() - now;
    if (ahead > 0) await this.wait(ahead, signal);
  }

  /** When the bytes counted so far are due at the rate. */
  private dueAt(): number {
    return (this.origin ?? 0) + (this.bytes * 1000) / this.bytesPerSecond;
  }
}
