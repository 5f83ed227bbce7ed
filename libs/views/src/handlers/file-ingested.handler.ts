import { contentAddress, simpleCaseFold, toHex } from '@artifactstore/codec';
import { makeEvent, type Event, type EventDraft } from '@artifactstore/events';
import { PayloadReader } from '../payload-reader.js';
import { assertSubject, ProjectionError, type ViewHandler } from '../view-handler.js';
import type { ViewStore } from '../view-store.js';
import { asNumber } from '@artifactstore/db';

export const FILE_INGESTED = 'v1.file.ingested';

/** Where a file's bytes are stored. location_id is a UUIDv5 of (file id, backend, key), so replay reproduces it. */
export interface StorageLocation {
  readonly location_id: string;
  readonly backend: string;
  readonly key: string;
}

/** Payload of `v1.file.ingested`; digests are raw 32-byte strings. */
export interface FileIngestedPayload {
  readonly file_id: string;
  readonly package_id: string;
  readonly relative_path: string;
  readonly media_type: string;
  readonly size: number;
  readonly blake3: Uint8Array;
  readonly sha256: Uint8Array;
  readonly storage: StorageLocation;
}

export function fileIngestedEvent(actor: string, payload: FileIngestedPayload): EventDraft {
  return makeEvent(
    { event_type: FILE_INGESTED, subject_kind: 'package', subject_id: payload.package_id, actor },
    { ...payload, storage: { ...payload.storage } },
  );
}

export function readFileIngested(event: Event): FileIngestedPayload {
  const payload = PayloadReader.of(event);
  const storage = payload.nested('storage');
  return {
    file_id: payload.uuid('file_id'),
    package_id: payload.uuid('package_id'),
    relative_path: payload.text('relative_path'),
    media_type: payload.text('media_type'),
    size: payload.integer('size'),
    blake3: payload.digest('blake3'),
    sha256: payload.digest('sha256'),
    storage: {
      location_id: storage.uuid('location_id'),
      backend: storage.text('backend'),
      key: storage.text('key'),
    },
  };
}

/**
 * → one artifact_files row, one storage_locations row; the package's file_count, total_size, last_event_sequence.
 * The row's folded_path (the simple case folding of the path) lets the registry find case collisions by index;
 * it is kept whatever the path policy, which decides what the registry accepts, not what the log holds.
 */
export class FileIngestedHandler implements ViewHandler {
  readonly eventType = FILE_INGESTED;

  async apply(store: ViewStore, event: Event): Promise<void> {
    const payload = readFileIngested(event);
    assertSubject(event, payload.package_id);
    // Only an open package takes files: the projection is where appends are serialized, so this is the check
    // that cannot race with finalization.
    const pkg = await store.get('artifact_packages', payload.package_id);
    const touched =
      pkg !== undefined &&
      (await store.update(
        'artifact_packages',
        payload.package_id,
        {
          last_event_sequence: event.sequence,
          file_count: asNumber(pkg.file_count) + 1,
          total_size: asNumber(pkg.total_size) + payload.size,
        },
        { status: 'created' },
      ));
    if (!touched) {
      throw new ProjectionError(
        `${FILE_INGESTED} #${event.sequence}: package ${payload.package_id} is unknown or already finalized`,
      );
    }
    await store.insert('artifact_files', {
      id: payload.file_id,
      package_id: payload.package_id,
      relative_path: payload.relative_path,
      folded_path: simpleCaseFold(payload.relative_path),
      media_type: payload.media_type,
      size: payload.size,
      blake3: toHex(payload.blake3),
      sha256: toHex(payload.sha256),
      content_address: contentAddress(payload.blake3),
      created_at: event.created_at,
    });
    await store.insert('storage_locations', {
      id: payload.storage.location_id,
      file_id: payload.file_id,
      backend: payload.storage.backend,
      key: payload.storage.key,
      created_at: event.created_at,
    });
  }
}
