import { makeEvent, type Event, type EventDraft } from '@artifactstore/events';
import { PayloadReader } from '../payload-reader.js';
import type { ViewHandler } from '../view-handler.js';
import type { ViewStore } from '../view-store.js';
import { LIVE_STATUSES, packageFor } from './package-rows.js';

export const PACKAGE_HELD = 'v1.package.held';

/** Payload of `v1.package.held`: the reason given (0–1024 characters, may be empty). */
export interface PackageHeldPayload {
  readonly reason: string;
}

export function packageHeldEvent(actor: string, packageId: string, payload: PackageHeldPayload): EventDraft {
  return makeEvent(
    { event_type: PACKAGE_HELD, subject_kind: 'package', subject_id: packageId, actor },
    { ...payload },
  );
}

/**
 * → held, hold_reason (retention_state keeps the deadline; the registry shows none while held). Applies to a live package, held or not (holding a held package
 * again changes its reason).
 */
export class PackageHeldHandler implements ViewHandler {
  readonly eventType = PACKAGE_HELD;

  async apply(store: ViewStore, event: Event): Promise<void> {
    const reason = PayloadReader.of(event).text('reason');
    await packageFor(store, event, LIVE_STATUSES, true);
    await store.update('artifact_packages', event.subject_id, {
      held: 1,
      hold_reason: reason,
      last_event_sequence: event.sequence,
    });
  }
}
