import { addDays, toHex } from '@artifactstore/codec';
import { asNullable, asNumber, type Tx } from '@artifactstore/db';
import { makeEventFromEncodedPayload, type Event, type EventDraft } from '@artifactstore/events';
import { PayloadReader } from '../payload-reader.js';
import { ProjectionError, type ViewHandler } from '../view-handler.js';

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

  async apply(tx: Tx, event: Event): Promise<void> {
    const manifestPackageId = PayloadReader.of(event).nested('package').text('id');
    if (manifestPackageId !== event.subject_id) {
      throw new ProjectionError(
        `${PACKAGE_FINALIZED} #${event.sequence}: manifest names package ${manifestPackageId}`,
      );
    }
    const finalized = await tx.run(
      `UPDATE artifact_packages SET status = 'finalized', finalized_at = ?, manifest_digest = ?, last_event_sequence = ?
       WHERE id = ? AND status = 'created'`,
      [event.created_at, toHex(event.payload_digest), event.sequence, event.subject_id],
    );
    if (finalized !== 1) {
      throw new ProjectionError(
        `${PACKAGE_FINALIZED} #${event.sequence}: package ${event.subject_id} is not open`,
      );
    }
    const [retention] = await tx.query('SELECT ttl_days FROM retention_state WHERE package_id = ?', [
      event.subject_id,
    ]);
    const ttlDays = asNullable(asNumber)(retention?.ttl_days);
    await tx.run('UPDATE retention_state SET expires_at = ? WHERE package_id = ?', [
      ttlDays === null ? null : addDays(event.created_at, ttlDays),
      event.subject_id,
    ]);
  }
}
