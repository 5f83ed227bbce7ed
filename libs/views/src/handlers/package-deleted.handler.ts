import { makeEvent, type Event, type EventDraft } from '@artifactstore/events';
import { PayloadReader } from '../payload-reader.js';
import type { ViewHandler } from '../view-handler.js';
import type { ViewStore } from '../view-store.js';
import { LIVE_STATUSES, packageFor } from './package-rows.js';

export const PACKAGE_DELETED = 'v1.package.deleted';

/** Payload of `v1.package.deleted`: the reason given (0–1024 characters, may be empty). */
export interface PackageDeletedPayload {
  readonly reason: string;
}

export function packageDeletedEvent(
  actor: string,
  packageId: string,
  payload: PackageDeletedPayload,
): EventDraft {
  return makeEvent(
    { event_type: PACKAGE_DELETED, subject_kind: 'package', subject_id: packageId, actor },
    { ...payload },
  );
}

/** → status deleted, removed_at and removal_reason. Applies to a live package that is not held. */
export class PackageDeletedHandler implements ViewHandler {
  readonly eventType = PACKAGE_DELETED;

  async apply(store: ViewStore, event: Event): Promise<void> {
    const reason = PayloadReader.of(event).text('reason');
    const pkg = await packageFor(store, event, LIVE_STATUSES, false);
    await store.update(
      'artifact_packages',
      event.subject_id,
      {
        status: 'deleted',
        removed_at: event.created_at,
        removal_reason: reason,
        last_event_sequence: event.sequence,
      },
      { status: pkg.status as string },
    );
  }
}
