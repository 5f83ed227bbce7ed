import { makeEvent, type Event, type EventDraft } from '@artifactstore/events';
import { PayloadReader } from '../payload-reader.js';
import type { ViewHandler } from '../view-handler.js';
import type { ViewStore } from '../view-store.js';
import { expiryOf, LIVE_STATUSES, packageFor } from './package-rows.js';

export const PACKAGE_RETENTION_CHANGED = 'v1.package.retention_changed';

/** Payload of `v1.package.retention_changed`: the new class and its ttl, as `v1.package.created` carries them. */
export interface PackageRetentionChangedPayload {
  readonly retention_class: string;
  /** Days from finalization to expiry; null = never. */
  readonly ttl_days: number | null;
}

export function packageRetentionChangedEvent(
  actor: string,
  packageId: string,
  payload: PackageRetentionChangedPayload,
): EventDraft {
  return makeEvent(
    { event_type: PACKAGE_RETENTION_CHANGED, subject_kind: 'package', subject_id: packageId, actor },
    { ...payload },
  );
}

/** → the new class on the package and its retention_state, and expires_at recomputed from finalized_at. */
export class PackageRetentionChangedHandler implements ViewHandler {
  readonly eventType = PACKAGE_RETENTION_CHANGED;

  async apply(store: ViewStore, event: Event): Promise<void> {
    const payload = PayloadReader.of(event);
    const retentionClass = payload.text('retention_class');
    const ttlDays = payload.nullableInteger('ttl_days');
    const pkg = await packageFor(store, event, LIVE_STATUSES, true);
    await store.update('artifact_packages', event.subject_id, {
      retention_class: retentionClass,
      last_event_sequence: event.sequence,
    });
    await store.update('retention_state', event.subject_id, {
      retention_class: retentionClass,
      ttl_days: ttlDays,
      expires_at: expiryOf(pkg, ttlDays),
    });
  }
}
