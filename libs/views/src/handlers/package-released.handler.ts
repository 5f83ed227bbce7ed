import { makeEvent, type Event, type EventDraft } from '@artifactstore/events';
import { PayloadReader } from '../payload-reader.js';
import { ProjectionError, type ViewHandler } from '../view-handler.js';
import type { ViewStore } from '../view-store.js';
import { LIVE_STATUSES, packageFor } from './package-rows.js';

export const PACKAGE_RELEASED = 'v1.package.released';

export function packageReleasedEvent(actor: string, packageId: string): EventDraft {
  return makeEvent(
    { event_type: PACKAGE_RELEASED, subject_kind: 'package', subject_id: packageId, actor },
    {},
  );
}

/** → held false, hold_reason null. Applies to a held package. */
export class PackageReleasedHandler implements ViewHandler {
  readonly eventType = PACKAGE_RELEASED;

  async apply(store: ViewStore, event: Event): Promise<void> {
    PayloadReader.of(event); // a map, whose fields are ignored
    await packageFor(store, event, LIVE_STATUSES, true);
    const released = await store.update(
      'artifact_packages',
      event.subject_id,
      { held: 0, hold_reason: null, last_event_sequence: event.sequence },
      { held: 1 },
    );
    if (!released) {
      throw new ProjectionError(
        `${event.event_type} #${event.sequence}: package ${event.subject_id} is not held`,
      );
    }
  }
}
