import { blake3, DIGEST_LENGTH } from '@artifactstore/codec';
import { encodeLogEntry, type LogEntryFields } from './log-entry.js';

/** The chain digest that precedes the first event. */
export const GENESIS_CHAIN_DIGEST: Buffer = Buffer.alloc(DIGEST_LENGTH);

/**
 * chain_digest(n) = BLAKE3(chain_digest(n−1) ‖ entry(n)), entry being the event's log entry (encodeLogEntry,
 * docs/formats.md). Altering, dropping or reordering any stored event breaks every digest after it.
 */
export function chainDigest(previous: Uint8Array, event: LogEntryFields): Buffer {
  return blake3(Buffer.concat([previous, encodeLogEntry(event)]));
}
