import { toHex } from '@artifactstore/codec';
import { makeEvent, type Event, type EventDraft } from '@artifactstore/events';
import { InvalidPayloadError, PayloadReader } from '../payload-reader.js';

export const BLOB_DAMAGED = 'v1.blob.damaged';

/** `missing`: storage no longer has the bytes; `mismatch`: it has bytes whose size or BLAKE3 is not theirs. */
export type BlobDamageKind = 'missing' | 'mismatch';

/**
 * Payload of `v1.blob.damaged`: a scrub found the bytes of a live file missing or damaged. It changes no view (no
 * handler): the log keeps the finding for operators and for whatever tails it.
 */
export interface BlobDamagedPayload {
  readonly blake3: Uint8Array;
  readonly kind: BlobDamageKind;
}

/** Subject kind `blob`, subject id the lowercase hex BLAKE3. */
export function blobDamagedEvent(actor: string, payload: BlobDamagedPayload): EventDraft {
  return makeEvent(
    { event_type: BLOB_DAMAGED, subject_kind: 'blob', subject_id: toHex(payload.blake3), actor },
    { blake3: payload.blake3, kind: payload.kind },
  );
}

export function readBlobDamaged(event: Event): BlobDamagedPayload {
  const payload = PayloadReader.of(event);
  const kind = payload.text('kind');
  if (kind !== 'missing' && kind !== 'mismatch') {
    throw new InvalidPayloadError(`${event.event_type} #${event.sequence}: unknown kind ${kind}`);
  }
  return { blake3: payload.digest('blake3'), kind };
}
