import { asString } from '@artifactstore/db';
import { makeEvent, type Event, type EventDraft } from '@artifactstore/events';
import { PayloadReader } from '../payload-reader.js';
import { ProjectionError, type ViewHandler } from '../view-handler.js';
import type { ViewStore } from '../view-store.js';

export const TAG_MOVED = 'v1.tag.moved';

/** Payload of `v1.tag.moved`: tag `tag` of package name `name` now points at `package_id`. */
export interface TagMovedPayload {
  readonly name: string;
  readonly tag: string;
  readonly package_id: string;
  /** Where it pointed before; null when the tag is new. */
  readonly previous_package_id: string | null;
}

/** A tag's stream: subject_kind `tag`, subject_id `<name>:<tag>` (a tag has no colon, so it splits at the last). */
export function tagSubject(name: string, tag: string): string {
  return `${name}:${tag}`;
}

export function tagMovedEvent(actor: string, payload: TagMovedPayload): EventDraft {
  return makeEvent(
    { event_type: TAG_MOVED, subject_kind: 'tag', subject_id: tagSubject(payload.name, payload.tag), actor },
    { ...payload },
  );
}

export function readTagMoved(event: Event): TagMovedPayload {
  const payload = PayloadReader.of(event);
  return {
    name: payload.text('name'),
    tag: payload.text('tag'),
    package_id: payload.uuid('package_id'),
    previous_package_id: payload.nullableUuid('previous_package_id'),
  };
}

/** Checks a tag event's subject and that `previous` is where the view says the tag points now. */
export async function checkTagEvent(
  store: ViewStore,
  event: Event,
  name: string,
  tag: string,
  previous: string | null,
): Promise<boolean> {
  const refuse = (why: string): ProjectionError =>
    new ProjectionError(`${event.event_type} #${event.sequence}: tag ${name}:${tag} ${why}`);
  if (event.subject_kind !== 'tag' || event.subject_id !== tagSubject(name, tag)) {
    throw refuse(`is not its subject ${event.subject_kind}/${event.subject_id}`);
  }
  const row = await store.get('tags', tagSubject(name, tag));
  const current = row ? asString(row.package_id) : null;
  if (current !== previous) throw refuse(`points at ${String(current)}, not ${String(previous)}`);
  return row !== undefined;
}

/**
 * → the tag's row in `tags` (inserted, or moved), with the time and actor of the move. The package must be
 * finalized and of the tag's name.
 */
export class TagMovedHandler implements ViewHandler {
  readonly eventType = TAG_MOVED;

  async apply(store: ViewStore, event: Event): Promise<void> {
    const payload = readTagMoved(event);
    const exists = await checkTagEvent(store, event, payload.name, payload.tag, payload.previous_package_id);
    const pkg = await store.get('artifact_packages', payload.package_id);
    if (!pkg || pkg.status !== 'finalized' || pkg.name !== payload.name) {
      throw new ProjectionError(
        `${TAG_MOVED} #${event.sequence}: package ${payload.package_id} is not a finalized package named ${payload.name}`,
      );
    }
    const row = {
      package_id: payload.package_id,
      moved_at: event.created_at,
      moved_by: event.actor,
      last_event_sequence: event.sequence,
    };
    if (exists) {
      await store.update('tags', tagSubject(payload.name, payload.tag), row);
    } else {
      await store.insert('tags', {
        id: tagSubject(payload.name, payload.tag),
        name: payload.name,
        tag: payload.tag,
        ...row,
      });
    }
  }
}
