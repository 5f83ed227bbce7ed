import { Injectable } from '@nestjs/common';
import type { Tx } from '@artifactstore/db';
import type { Event, ViewWriter } from '@artifactstore/events';
import { BlobCollectedHandler } from './handlers/blob-collected.handler.js';
import { FileIngestedHandler } from './handlers/file-ingested.handler.js';
import { PackageCreatedHandler } from './handlers/package-created.handler.js';
import { PackageDeletedHandler } from './handlers/package-deleted.handler.js';
import { PackageExpiredHandler } from './handlers/package-expired.handler.js';
import { PackageFinalizedHandler } from './handlers/package-finalized.handler.js';
import { PackageHeldHandler } from './handlers/package-held.handler.js';
import { PackageReleasedHandler } from './handlers/package-released.handler.js';
import { PackageRetentionChangedHandler } from './handlers/package-retention-changed.handler.js';
import { TagDeletedHandler } from './handlers/tag-deleted.handler.js';
import { TagMovedHandler } from './handlers/tag-moved.handler.js';
import { LogTreeWriter } from './log-tree-writer.js';
import type { ViewHandler } from './view-handler.js';
import { BatchingViewStore, ImmediateViewStore } from './view-store.js';
import { VIEW_TABLES } from './view-tables.js';

/** The handlers of the registry's views. Adding an event type: write one handler file, list it here. */
const REGISTRY_HANDLERS: readonly ViewHandler[] = [
  new PackageCreatedHandler(),
  new FileIngestedHandler(),
  new PackageFinalizedHandler(),
  new PackageExpiredHandler(),
  new PackageDeletedHandler(),
  new PackageHeldHandler(),
  new PackageReleasedHandler(),
  new PackageRetentionChangedHandler(),
  new BlobCollectedHandler(),
  new TagMovedHandler(),
  new TagDeletedHandler(),
];

/**
 * Projects events into the registry views: one handler per event type (unknown types are skipped), then every
 * event into the transparency log's tree.
 */
@Injectable()
export class RegistryViewWriter implements ViewWriter {
  private readonly handlers: ReadonlyMap<string, ViewHandler>;

  /** `tree` null leaves the log tree out: only for measuring what it costs (`npm run bench -- --suites transparency`). */
  constructor(
    handlers: readonly ViewHandler[] = REGISTRY_HANDLERS,
    private readonly tree: LogTreeWriter | null = new LogTreeWriter(),
  ) {
    const byType = new Map<string, ViewHandler>();
    for (const handler of handlers) {
      if (byType.has(handler.eventType)) throw new Error(`two view handlers for ${handler.eventType}`);
      byType.set(handler.eventType, handler);
    }
    this.handlers = byType;
  }

  async reset(tx: Tx): Promise<void> {
    for (const table of [...VIEW_TABLES].reverse()) await tx.run(`DELETE FROM ${table.name}`);
  }

  async apply(tx: Tx, event: Event): Promise<void> {
    await this.handlers.get(event.event_type)?.apply(new ImmediateViewStore(tx), event);
    await this.tree?.append(tx, [event]);
  }

  /** Replay's path: the same handlers, with inserts batched into multi-row statements. */
  async applyBatch(tx: Tx, events: readonly Event[]): Promise<void> {
    const store = new BatchingViewStore(tx);
    for (const event of events) await this.handlers.get(event.event_type)?.apply(store, event);
    store.flush();
    await this.tree?.append(tx, events);
  }

  /** Adds to the log tree up to `limit` committed events it lacks; returns how many (0: it is up to date). */
  async catchUpTree(tx: Tx, limit: number): Promise<number> {
    return (await this.tree?.catchUp(tx, limit)) ?? 0;
  }
}
