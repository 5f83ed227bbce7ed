/**
 * @artifactstore/events — the append-only, hash-chained event log: append (in the caller's transaction), read,
 * tail, replay into a ViewWriter, and verify. It knows nothing of packages; event types and payloads belong to
 * the libs that write and project them.
 */
export {
  type Event,
  type EventDraft,
  type EventHeader,
  makeEvent,
  makeEventFromEncodedPayload,
  InvalidEventError,
} from './event.js';
export { chainDigest, GENESIS_CHAIN_DIGEST } from './chain-digest.js';
export { encodeLogEntry, type LogEntryFields } from './log-entry.js';
export {
  EventLog,
  type TailOptions,
  type ReplayOptions,
  type VerifyChainOptions,
  type ChainVerification,
} from './event-log.service.js';
export { type ViewWriter } from './view-writer.js';
export { TailOverrunError } from './event-feed.js';
export { EventsModule } from './events.module.js';
