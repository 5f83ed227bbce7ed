import { blake3, encodeCanonicalCbor, DIGEST_LENGTH } from '@artifactstore/codec';
import type { Event } from './event.js';

/** The chain digest that precedes the first event. */
export const GENESIS_CHAIN_DIGEST: Buffer = Buffer.alloc(DIGEST_LENGTH);

/**
 * chain_digest(n) = BLAKE3(chain_digest(n−1) ‖ CBOR([sequence, event_type, subject_kind, subject_id, actor,
 * created_at, payload_digest])), the array in canonical CBOR with created_at as its RFC 3339 text and
 * payload_digest as a 32-byte string (docs/formats.md). Altering, dropping or reordering any stored event breaks
 * every digest after it.
 */
export function chainDigest(
  previous: Uint8Array,
  event: Pick<
    Event,
    'sequence' | 'event_type' | 'subject_kind' | 'subject_id' | 'actor' | 'created_at' | 'payload_digest'
  >,
): Buffer {
  const link = encodeCanonicalCbor([
    event.sequence,
    event.event_type,
    event.subject_kind,
    event.subject_id,
    event.actor,
    event.created_at,
    event.payload_digest,
  ]);
  return blake3(Buffer.concat([previous, link]));
}
