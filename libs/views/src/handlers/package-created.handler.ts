import { canonicalJson, cborToJson, type CborMap } from '@artifactstore/codec';
import type { Tx } from '@artifactstore/db';
import { makeEvent, type Event, type EventDraft } from '@artifactstore/events';
import { PayloadReader } from '../payload-reader.js';
import type { ViewHandler } from '../view-handler.js';

export const PACKAGE_CREATED = 'v1.package.created';

/** Payload of `v1.package.created`. The ttl travels in the event, so a later change of the seed cannot alter replay. */
export interface PackageCreatedPayload {
  readonly package_id: string;
  readonly name: string;
  readonly producer: string;
  readonly subject: string;
  readonly retention_class: string;
  /** Days from finalization to expiry; null = never. */
  readonly ttl_days: number | null;
  readonly metadata: CborMap;
}

export function packageCreatedEvent(actor: string, payload: PackageCreatedPayload): EventDraft {
  return makeEvent(
    { event_type: PACKAGE_CREATED, subject_kind: 'package', subject_id: payload.package_id, actor },
    { ...payload },
  );
}

export function readPackageCreated(event: Event): PackageCreatedPayload {
  const payload = PayloadReader.of(event);
  return {
    package_id: payload.text('package_id'),
    name: payload.text('name'),
    producer: payload.text('producer'),
    subject: payload.text('subject'),
    retention_class: payload.text('retention_class'),
    ttl_days: payload.nullableInteger('ttl_days'),
    metadata: payload.map('metadata'),
  };
}

/** → one artifact_packages row (status created) and its retention_state row (no expiry until finalized). */
export class PackageCreatedHandler implements ViewHandler {
  readonly eventType = PACKAGE_CREATED;

  async apply(tx: Tx, event: Event): Promise<void> {
    const payload = readPackageCreated(event);
    await tx.run(
      `INSERT INTO artifact_packages (id, name, producer, subject, retention_class, status, metadata, created_at,
         finalized_at, manifest_digest, last_event_sequence)
       VALUES (?, ?, ?, ?, ?, 'created', ?, ?, NULL, NULL, ?)`,
      [
        payload.package_id,
        payload.name,
        payload.producer,
        payload.subject,
        payload.retention_class,
        canonicalJson(cborToJson(payload.metadata)),
        event.created_at,
        event.sequence,
      ],
    );
    await tx.run(
      `INSERT INTO retention_state (package_id, retention_class, ttl_days, expires_at, created_at)
       VALUES (?, ?, ?, NULL, ?)`,
      [payload.package_id, payload.retention_class, payload.ttl_days, event.created_at],
    );
  }
}
