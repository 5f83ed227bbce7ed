import { makeEvent, type Event, type EventDraft } from '@artifactstore/events';
import { InvalidPayloadError, PayloadReader } from '../payload-reader.js';
import type { ViewHandler } from '../view-handler.js';
import type { ViewStore } from '../view-store.js';
import { packageFor } from './package-rows.js';

export const PACKAGE_EXPIRED = 'v1.package.expired';

/** `retention`: a finalized package outlived its class; `abandoned`: a created one was never finished. */
export type ExpiryReason = 'retention' | 'abandoned';

/** Payload of `v1.package.expired`: why, and the deadline that passed (RFC 3339 ms text). */
export interface PackageExpiredPayload {
  readonly reason: ExpiryReason;
  readonly expires_at: string;
}

export function packageExpiredEvent(
  actor: string,
  packageId: string,
  payload: PackageExpiredPayload,
): EventDraft {
  return makeEvent(
    { event_type: PACKAGE_EXPIRED, subject_kind: 'package', subject_id: packageId, actor },
    { ...payload },
  );
}

export function readPackageExpired(event: Event): PackageExpiredPayload {
  const payload = PayloadReader.of(event);
  const reason = payload.text('reason');
  if (reason !== 'retention' && reason !== 'abandoned') {
    throw new InvalidPayloadError(`${event.event_type} #${event.sequence}: unknown reason ${reason}`);
  }
  return { reason, expires_at: payload.timestamp('expires_at') };
}

/**
 * → status expired, removed_at (the event's time) and removal_reason. `retention` applies to a finalized package,
 * `abandoned` to a created one; neither to a held package.
 */
export class PackageExpiredHandler implements ViewHandler {
  readonly eventType = PACKAGE_EXPIRED;

  async apply(store: ViewStore, event: Event): Promise<void> {
    const payload = readPackageExpired(event);
    const status = payload.reason === 'retention' ? 'finalized' : 'created';
    await packageFor(store, event, [status], false);
    await store.update(
      'artifact_packages',
      event.subject_id,
      {
        status: 'expired',
        removed_at: event.created_at,
        removal_reason: payload.reason,
        last_event_sequence: event.sequence,
      },
      { status },
    );
  }
}
