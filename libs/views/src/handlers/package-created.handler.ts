import { canonicalJson, cborToJson, type CborMap } from '@artifactstore/codec';
import { makeEvent, type Event, type EventDraft } from '@artifactstore/events';
import { PayloadReader } from '../payload-reader.js';
import { assertSubject, type ViewHandler } from '../view-handler.js';
import type { ViewStore } from '../view-store.js';

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
  /** The creator's Idempotency-Key, when the request had one: the same actor and key answer this package again. */
  readonly idempotency_key?: string;
}

export function packageCreatedEvent(actor: string, payload: PackageCreatedPayload): EventDraft {
  const { idempotency_key: key, ...required } = payload;
  return makeEvent(
    { event_type: PACKAGE_CREATED, subject_kind: 'package', subject_id: payload.package_id, actor },
    { ...required, ...optional('idempotency_key', key) },
  );
}

/** `{ [name]: value }`, or nothing when the value is undefined: an absent key is not a null one. */
function optional<K extends string>(name: K, value: string | undefined): { [P in K]?: string } {
  return value === undefined ? {} : ({ [name]: value } as { [P in K]?: string });
}

export function readPackageCreated(event: Event): PackageCreatedPayload {
  const payload = PayloadReader.of(event);
  return {
    package_id: payload.uuid('package_id'),
    name: payload.text('name'),
    producer: payload.text('producer'),
    subject: payload.text('subject'),
    retention_class: payload.text('retention_class'),
    ttl_days: payload.nullableInteger('ttl_days'),
    metadata: payload.map('metadata'),
    ...optional('idempotency_key', payload.optionalText('idempotency_key')),
  };
}

/**
 * → one artifact_packages row (status created, `created_by` the event's actor, its idempotency key if any) and its
 * retention_state row (no expiry until finalized).
 */
export class PackageCreatedHandler implements ViewHandler {
  readonly eventType = PACKAGE_CREATED;

  async apply(store: ViewStore, event: Event): Promise<void> {
    const payload = readPackageCreated(event);
    assertSubject(event, payload.package_id);
    await store.insert('artifact_packages', {
      id: payload.package_id,
      name: payload.name,
      producer: payload.producer,
      subject: payload.subject,
      retention_class: payload.retention_class,
      status: 'created',
      metadata: canonicalJson(cborToJson(payload.metadata)),
      created_at: event.created_at,
      finalized_at: null,
      manifest_digest: null,
      last_event_sequence: event.sequence,
      file_count: 0,
      total_size: 0,
      created_by: event.actor,
      idempotency_key: payload.idempotency_key ?? null,
      held: 0,
      hold_reason: null,
      removed_at: null,
      removal_reason: null,
    });
    await store.insert('retention_state', {
      package_id: payload.package_id,
      retention_class: payload.retention_class,
      ttl_days: payload.ttl_days,
      expires_at: null,
      created_at: event.created_at,
    });
  }
}
