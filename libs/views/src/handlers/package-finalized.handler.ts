import { addDays, toHex } from '@artifactstore/codec';
import { makeEventFromEncodedPayload, type Event, type EventDraft } from '@artifactstore/events';
import { PayloadReader } from '../payload-reader.js';
import { assertSubject, ProjectionError, type ViewHandler } from '../view-handler.js';
import { nullableInteger, type ViewStore } from '../view-store.js';

export const PACKAGE_FINALIZED = 'v1.package.finalized';

/**
 * `v1.package.finalized`: the payload IS the manifest, the canonical CBOR bytes whose BLAKE3 is the package's
 * content address (so the event's payload_digest is that digest).
 */
export function packageFinalizedEvent(actor: string, packageId: string, manifest: Uint8Array): EventDraft {
  return makeEventFromEncodedPayload(
    { event_type: PACKAGE_FINALIZED, subject_kind: 'package', subject_id: packageId, actor },
    manifest,
  );
}

/** → status finalized, finalized_at, manifest_digest, and the retention expiry from the ttl recorded at creation. */
export class PackageFinalizedHandler implements ViewHandler {
  readonly eventType = PACKAGE_FINALIZED;

  async apply(store: ViewStore, event: Event): Promise<void> {
    assertSubject(event, PayloadReader.of(event).nested('package').uuid('id'));
    const finalized = await store.update(
      'artifact_packages',
      event.subject_id,
      {
        status: 'finalized',
        finalized_at: event.created_at,
        manifest_digest: toHex(event.payload_digest),
        last_event_sequence: event.sequence,
      },
      { status: 'created' },
    );
    if (!finalized) {
      throw new ProjectionError(
        `${PACKAGE_FINALIZED} #${event.sequence}: package ${event.subject_id} is not open`,
      );
    }
    const ttlDays = nullableInteger(await store.get('retention_state', event.subject_id), 'ttl_days');
    await store.update('retention_state', event.subject_id, {
      expires_at: ttlDays === null ? null : addDays(event.created_at, ttlDays),
    });
  }
}
