import { Injectable } from '@nestjs/common';
import { toHex } from '@artifactstore/codec';
import { BlobStore } from '@artifactstore/dataplane';
import { Database } from '@artifactstore/db';
import {
  EventLog,
  type ChainVerification,
  type Event,
  type TailOptions,
  type VerifyChainOptions,
} from '@artifactstore/events';
import { ViewProjector, stateDigest } from '@artifactstore/views';
import { checkSequence } from './input-rules.js';
import { checkLimit } from './page-cursor.js';

export interface ReplayReport {
  /** The highest sequence replayed (0 for an empty log). */
  readonly head_sequence: number;
  readonly state_digest_before: string;
  readonly state_digest_after: string;
}

export interface ReplayViewsOptions {
  /** Called after each batch with the sequence of the last event applied; a throw cancels the replay. */
  readonly onProgress?: (sequence: number) => void;
}

/** The log as clients and operators meet it: the event feed, readiness, replay and chain verification. */
@Injectable()
export class LogOperations {
  constructor(
    private readonly database: Database,
    private readonly eventLog: EventLog,
    private readonly projector: ViewProjector,
    private readonly blobStore: BlobStore,
  ) {}

  /** Events after `since`, at most `limit` of them, in sequence order. */
  async listEvents(since: number, limit: number): Promise<Event[]> {
    checkSequence(since);
    checkLimit(limit);
    return this.database.read((tx) => this.eventLog.readSince(tx, since, limit));
  }

  /** Every event after `since` as it commits, never missing one (the event log's tail). */
  tailEvents(since: number, options?: TailOptions): AsyncIterable<Event> {
    checkSequence(since);
    return this.eventLog.tail(since, options);
  }

  /** Like tailEvents, a batch at a time: what has committed after the cursor, up to `options.maxBatch`. */
  tailEventBatches(since: number, options?: TailOptions): AsyncIterable<Event[]> {
    checkSequence(since);
    return this.eventLog.tailBatches(since, options);
  }

  async headSequence(): Promise<number> {
    return this.eventLog.headSequence();
  }

  /** Throws unless the database answers and the blob storage takes a write; returns the head sequence. */
  async checkReadiness(): Promise<number> {
    const [head] = await Promise.all([this.headSequence(), this.blobStore.checkWritable()]);
    return head;
  }

  /**
   * Rebuilds every view from the log, with the state digest before and after (equal unless the views drifted).
   * Both digests are taken in the replay's transaction under the append lock, so a write racing the replay cannot
   * make them differ.
   */
  async replayViews(options: ReplayViewsOptions = {}): Promise<ReplayReport> {
    let before: Buffer = Buffer.alloc(0);
    let after: Buffer = Buffer.alloc(0);
    const headSequence = await this.projector.replayAll({
      onProgress: options.onProgress,
      before: async (tx) => {
        before = await stateDigest(tx);
      },
      after: async (tx) => {
        after = await stateDigest(tx);
      },
    });
    return {
      head_sequence: headSequence,
      state_digest_before: toHex(before),
      state_digest_after: toHex(after),
    };
  }

  /** Checks every payload and chain digest, a batch per snapshot: no lock is held, so writes go on meanwhile. */
  verifyChain(options: VerifyChainOptions = {}): Promise<ChainVerification> {
    return this.eventLog.verifyChain(options);
  }
}
