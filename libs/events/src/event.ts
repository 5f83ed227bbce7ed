import {
  blake3,
  encodeCanonicalCbor,
  isCanonicalCbor,
  type CborValue,
  type Timestamp,
} from '@artifactstore/codec';

/** What identifies an event before it is stored: its type, the stream it belongs to and who caused it. */
export interface EventHeader {
  /** Versioned, dotted: `v1.package.created`. */
  readonly event_type: string;
  /** The kind of stream, e.g. `package`. */
  readonly subject_kind: string;
  /** The stream's id, e.g. the package UUID. */
  readonly subject_id: string;
  /** Who caused it (a user, a token's name, `system`). */
  readonly actor: string;
}

/** An event ready to append: header plus its canonical CBOR payload and the payload's BLAKE3. */
export interface EventDraft extends EventHeader {
  readonly payload: Buffer;
  readonly payload_digest: Buffer;
}

/** A stored event. `sequence` and `created_at` are assigned by the log at append. */
export interface Event extends EventDraft {
  readonly sequence: number;
  readonly chain_digest: Buffer;
  readonly created_at: Timestamp;
}

export class InvalidEventError extends Error {
  readonly code = 'invalid_event';
  override readonly name = 'InvalidEventError';
}

const EVENT_TYPE = /^v[1-9][0-9]*(\.[a-z][a-z0-9_]*)+$/;

/** Builds a draft whose payload is the canonical CBOR encoding of `payload`. */
export function makeEvent(header: EventHeader, payload: CborValue): EventDraft {
  return draft(header, encodeCanonicalCbor(payload));
}

/**
 * Builds a draft from a payload that is already canonical CBOR (the finalize event carries the manifest bytes
 * exactly as they were hashed). Bytes that are not the canonical encoding of their value are refused.
 */
export function makeEventFromEncodedPayload(header: EventHeader, payload: Uint8Array): EventDraft {
  if (!isCanonicalCbor(payload)) throw new InvalidEventError('payload is not canonical CBOR');
  return draft(header, Buffer.from(payload));
}

function draft(header: EventHeader, payload: Buffer): EventDraft {
  if (!EVENT_TYPE.test(header.event_type)) {
    throw new InvalidEventError(
      `event_type must look like v1.thing.happened, got ${JSON.stringify(header.event_type)}`,
    );
  }
  for (const field of ['subject_kind', 'subject_id', 'actor'] as const) {
    if (header[field].length === 0) throw new InvalidEventError(`${field} must not be empty`);
  }
  return {
    event_type: header.event_type,
    subject_kind: header.subject_kind,
    subject_id: header.subject_id,
    actor: header.actor,
    payload,
    payload_digest: blake3(payload),
  };
}
