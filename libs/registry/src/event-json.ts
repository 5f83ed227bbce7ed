import { cborToJson, decodeCbor, toHex, type JsonValue } from '@artifactstore/codec';
import type { Event } from '@artifactstore/events';

/** An event as the API shows it: digests as hex, the CBOR payload projected to JSON as manifests are. */
export interface EventJson {
  readonly sequence: number;
  readonly event_type: string;
  readonly subject_kind: string;
  readonly subject_id: string;
  readonly actor: string;
  readonly created_at: string;
  readonly payload_digest: string;
  readonly chain_digest: string;
  readonly payload: JsonValue;
  /** The payload's canonical CBOR bytes, base64, when asked for (`include=payload`): what a mirror copies. */
  readonly payload_cbor?: string;
}

export function eventJson(event: Event, options: { readonly includePayload?: boolean } = {}): EventJson {
  const json: EventJson = {
    sequence: event.sequence,
    event_type: event.event_type,
    subject_kind: event.subject_kind,
    subject_id: event.subject_id,
    actor: event.actor,
    created_at: event.created_at,
    payload_digest: toHex(event.payload_digest),
    chain_digest: toHex(event.chain_digest),
    payload: cborToJson(decodeCbor(event.payload)),
  };
  return options.includePayload === true ? { ...json, payload_cbor: event.payload.toString('base64') } : json;
}
