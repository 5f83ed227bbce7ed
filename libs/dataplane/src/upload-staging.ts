import type { DualDigests } from '@artifactstore/codec';
import type { IngestReceipt } from './blob-store.js';

/** What storage knows of one resumable upload. */
export interface StagedUploadState {
  /** The document given to `create`, as it was given. */
  readonly document: string;
  /** Bytes staged so far, from the first: the next byte expected is at this offset. */
  readonly offset: number;
  /** When the upload was created or last had bytes written, in ms since the epoch (storage's clock). */
  readonly touchedAt: number;
  /** What `markCompleted` recorded once the upload's file was attached; its bytes are gone then. */
  readonly completion?: string;
}

/** Upload ids: 32 lowercase hex digits (128 random bits), so that an id from a URL can never name a path. */
export const UPLOAD_ID = /^[0-9a-f]{32}$/;

/**
 * Bytes of resumable uploads, staged in the blob storage itself (fs: `<blobs>/uploads/<id>/`; S3:
 * `<prefix>uploads/<id>/`), outside the blob keyspace, so that any server process of a deployment can continue an
 * upload another one began and the collector never takes staged bytes for blobs. Next to the bytes lies the
 * upload's document (its length, path, creator …, opaque here), written once at `create`.
 *
 * It stores and reads bytes and nothing else: hashing, offsets checks and expiry are the caller's. Appends to one
 * upload must not overlap (the caller serializes them); each resolves once its bytes are durable.
 */
export abstract class UploadStaging {
  /** Creates the upload with its document and no bytes. */
  abstract create(id: string, document: string): Promise<void>;

  /** The upload's document, offset and age; undefined when there is no such upload (or `id` is no upload id). */
  abstract state(id: string): Promise<StagedUploadState | undefined>;

  /**
   * Writes `chunks` from `offset`, which must be the upload's current offset, and resolves with the new offset once
   * they are durable. When the iteration throws, the bytes it yielded before stay staged and the error is rethrown.
   */
  abstract append(id: string, offset: number, chunks: AsyncIterable<Uint8Array>): Promise<number>;

  /** Drops every staged byte from `offset` on (a PATCH whose checksum did not match). */
  abstract truncate(id: string, offset: number): Promise<void>;

  /** The staged bytes from the first, in order (to hash them again in a process that did not see them pass). */
  abstract read(id: string): AsyncIterable<Uint8Array>;

  /**
   * Turns the staged bytes, whose digests the caller computed, into a blob under their BLAKE3 key, with a staging
   * copy as an ingest leaves one: the receipt is attached and released like `BlobStore.ingest`'s.
   */
  abstract complete(id: string, digests: DualDigests): Promise<IngestReceipt>;

  /** Records that the upload's file is attached (`completion`, opaque here) and drops its staged bytes. */
  abstract markCompleted(id: string, completion: string): Promise<void>;

  /** Removes the upload and everything staged for it. Idempotent. */
  abstract remove(id: string): Promise<void>;

  /** The id of every upload staged, in no particular order. */
  abstract ids(): AsyncIterable<string>;
}
