import { addDays } from '@artifactstore/codec';
import { asNumber, asString, asTimestamp, type Row } from '@artifactstore/db';
import type { Event } from '@artifactstore/events';
import { ProjectionError } from '../view-handler.js';
import type { ViewStore } from '../view-store.js';

/** Statuses whose package is live: its files are served and its blobs are kept. */
export const LIVE_STATUSES: readonly string[] = ['created', 'finalized'];

/**
 * The package row an event applies to, refused (ProjectionError) when it is missing, its status is not one of
 * `statuses`, or it is held and `heldToo` is false.
 */
export async function packageFor(
  store: ViewStore,
  event: Event,
  statuses: readonly string[],
  heldToo: boolean,
): Promise<Row> {
  const refuse = (why: string): ProjectionError =>
    new ProjectionError(`${event.event_type} #${event.sequence}: package ${event.subject_id} ${why}`);
  if (event.subject_kind !== 'package') throw refuse(`is not its subject (${event.subject_kind})`);
  const row = await store.get('artifact_packages', event.subject_id);
  if (!row) throw refuse('is unknown');
  const status = asString(row.status);
  if (!statuses.includes(status)) throw refuse(`is ${status}`);
  if (!heldToo && asNumber(row.held) === 1) throw refuse('is held');
  return row;
}

/** When a package expires by retention: `finalized_at + ttl_days`; null before it is finalized or for a permanent class. */
export function expiryOf(pkg: Row, ttlDays: number | null): string | null {
  const finalizedAt = pkg.finalized_at;
  if (ttlDays === null || finalizedAt === null || finalizedAt === undefined) return null;
  return addDays(asTimestamp(finalizedAt), ttlDays);
}
