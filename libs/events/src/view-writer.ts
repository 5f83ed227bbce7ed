import type { Tx } from '@artifactstore/db';
import type { Event } from './event.js';

/**
 * What the log projects into. The events lib knows no view; the views lib implements this, and the same
 * `apply` runs on the direct path (in the append's transaction) and during replay.
 */
export interface ViewWriter {
  /** Empties every view table, in the caller's transaction. */
  reset(tx: Tx): Promise<void>;
  /** Applies one event, in the caller's transaction. Unknown event types are skipped. */
  apply(tx: Tx, event: Event): Promise<void>;
  /**
   * Optional, for replay: applies consecutive events at once. Must leave the views exactly as calling `apply` on
   * each in order would.
   */
  applyBatch?(tx: Tx, events: readonly Event[]): Promise<void>;
}
