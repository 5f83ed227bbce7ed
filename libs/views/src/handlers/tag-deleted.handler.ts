import { makeEvent, type Event, type EventDraft } from '@artifactstore/events';
import { PayloadReader } from '../payload-reader.js';
import { ProjectionError, type ViewHandler } from '../view-handler.js';
import type { ViewStore } from '../view-store.js';
import { checkTagEvent, tagSubject } from './tag-moved.handler.js';

export const TAG_DELETED = 'v1.tag.deleted';

/** Payload of `v1.tag.deleted`: the tag removed, and the package it pointed at. */
export interface TagDeletedPayload {
  readonly name: string;
  readonly tag: string;
  readonly previous_package_id: string;
}

export function tagDeletedEvent(actor: string, payload: TagDeletedPayload): EventDraft {
  return makeEvent(
    {
      event_type: TAG_DELETED,
      subject_kind: 'tag',
      subject_id: tagSubject(payload.name, payload.tag),
      actor,
    },
    { ...payload },
  );
}

/** → the tag's row goes from `tags`; its history stays in the log. */
export class TagDeletedHandler implements ViewHandler {
  readonly eventType = TAG_DELETED;

  async apply(store: ViewStore, event: Event): Promise<void> {
    const payload = PayloadReader.of(event);
    const name = payload.text('name');
    const tag = payload.text('tag');
    const previous = payload.uuid('previous_package_id');
    if (!(await checkTagEvent(store, event, name, tag, previous))) {
      throw new ProjectionError(`${TAG_DELETED} #${event.sequence}: tag ${name}:${tag} does not exist`);
    }
    await store.deleteWhere('tags', { id: tagSubject(name, tag) });
  }
}
