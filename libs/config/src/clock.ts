/**
 * The wall clock, for decisions that depend on the time: which packages are due to expire, which blobs have been
 * unreferenced long enough. Injected, so that a test can move it instead of waiting days.
 */
export class Clock {
  /** Milliseconds since the epoch. */
  now(): number {
    return Date.now();
  }
}
