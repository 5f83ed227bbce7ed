import { toHex } from '@artifactstore/codec';
import { makeEvent, type Event, type EventDraft } from '@artifactstore/events';
import { PayloadReader } from '../payload-reader.js';
import { ProjectionError, type ViewHandler } from '../view-handler.js';
import type { ViewStore } from '../view-store.js';

export const BLOB_COLLECTED = 'v1.blob.collected';

/** Payload of `v1.blob.collected`: which bytes the collector removed, and from where. */
export interface BlobCollectedPayload {
  readonly blake3: Uint8Array;
  readonly size: number;
  readonly storage: { readonly backend: string; readonly key: string };
}

/** Subject kind `blob`, subject id the lowercase hex BLAKE3. */
export function blobCollectedEvent(actor: string, payload: BlobCollectedPayload): EventDraft {
  return makeEvent(
    { event_type: BLOB_COLLECTED, subject_kind: 'blob', subject_id: toHex(payload.blake3), actor },
    { ...payload, storage: { ...payload.storage } },
  );
}

export function readBlobCollected(event: Event): BlobCollectedPayload {
  const payload = PayloadReader.of(event);
  const storage = payload.nested('storage');
  return {
    blake3: payload.digest('blake3'),
    size: payload.integer('size'),
    storage: { backend: storage.text('backend'), key: storage.text('key') },
  };
}

/**
 * → every storage location of those bytes is gone, whichever backend it names (the files keep their rows and
 * digests): a store keeps each blob once, under its key, in its own backend (ADR 0018).
 */
export class BlobCollectedHandler implements ViewHandler {
  readonly eventType = BLOB_COLLECTED;

  async apply(store: ViewStore, event: Event): Promise<void> {
    const payload = readBlobCollected(event);
    if (event.subject_kind !== 'blob' || event.subject_id !== toHex(payload.blake3)) {
      throw new ProjectionError(
        `${event.event_type} #${event.sequence}: subject ${event.subject_kind}/${event.subject_id} is not its blob`,
      );
    }
    await store.deleteWhere('storage_locations', { key: payload.storage.key });
  }
}
