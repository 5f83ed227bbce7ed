import { encodeCanonicalCbor } from '@artifactstore/codec';
import type { Event } from './event.js';

/** The fields of an event that its log entry covers. */
export type LogEntryFields = Pick<
  Event,
  'sequence' | 'event_type' | 'subject_kind' | 'subject_id' | 'actor' | 'created_at' | 'payload_digest'
>;

/**
 * An event's log entry: canonical CBOR of [sequence, event_type, subject_kind, subject_id, actor, created_at,
 * payload_digest], created_at as its RFC 3339 text and payload_digest as a 32-byte string (docs/formats.md). The
 * chain digest hashes it after the previous chain digest; the transparency log's leaf i is the entry of the i-th
 * event. The payload is in it only through its digest, so an entry stays small.
 */
export function encodeLogEntry(event: LogEntryFields): Buffer {
  return encodeCanonicalCbor([
    event.sequence,
    event.event_type,
    event.subject_kind,
    event.subject_id,
    event.actor,
    event.created_at,
    event.payload_digest,
  ]);
}
