import type { Event } from '@artifactstore/events';
import type { ViewStore } from './view-store.js';

/**
 * Projects one event type into the views, through a ViewStore (the same code on the direct path and in replay).
 * Everything it writes must come from the event (ids, timestamps, …), never from the clock or a random source,
 * so that replay rebuilds byte-identical state.
 */
export interface ViewHandler {
  readonly eventType: string;
  apply(store: ViewStore, event: Event): Promise<void>;
}

/** A view handler found the views in a state its event cannot apply to (the log and views disagree). */
export class ProjectionError extends Error {
  readonly code = 'projection_error';
  override readonly name = 'ProjectionError';
}

/** Every view event belongs to its package's stream: subject_kind `package`, subject_id the package id. */
export function assertSubject(event: Event, packageId: string): void {
  if (event.subject_kind !== 'package' || event.subject_id !== packageId) {
    throw new ProjectionError(
      `${event.event_type} #${event.sequence}: subject ${event.subject_kind}/${event.subject_id} is not package ${packageId}`,
    );
  }
}
