import { Injectable } from '@nestjs/common';
import type { Tx } from '@artifactstore/db';
import { EventLog, type Event, type EventDraft, type ReplayOptions } from '@artifactstore/events';
import { RegistryViewWriter } from './registry-view-writer.js';

/**
 * Appends and projects together: the one write path for events. The view is applied with the same `tx` before
 * commit, so there is never an event without its view nor a view without its event; replay runs the very same
 * handlers.
 */
@Injectable()
export class ViewProjector {
  constructor(
    private readonly eventLog: EventLog,
    private readonly viewWriter: RegistryViewWriter,
  ) {}

  async appendAndApply(tx: Tx, draft: EventDraft): Promise<Event> {
    const event = await this.eventLog.append(tx, draft);
    await this.viewWriter.apply(tx, event);
    return event;
  }

  /**
   * Appends events stored by another log (a mirror copying its source), exactly as they were, after checking that
   * they continue this log's chain (EventLog.importEvents), and applies their views in the same transaction.
   */
  async importAndApply(tx: Tx, events: readonly Event[]): Promise<void> {
    await this.eventLog.importEvents(tx, events);
    for (const event of events) await this.viewWriter.apply(tx, event);
  }

  /** Rebuilds the views from the whole log; returns the highest sequence applied. */
  replayAll(options?: ReplayOptions): Promise<number> {
    return this.eventLog.replay(this.viewWriter, options);
  }
}
