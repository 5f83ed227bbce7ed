import { randomBytes, randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import { makeEvent, type EventDraft } from '@artifactstore/events';
import { VIEW_TABLES, dumpState } from '@artifactstore/views';
import type { Tx } from '@artifactstore/db';
import { openCore, type CoreContext } from '../test/support/core-context.js';
import { fileIngested, packageCreated, packageFinalized } from '../test/support/sample-events.js';
import type { ScratchDatabase } from '../test/support/scratch-database.js';
import { median, percentile } from './stats.js';

const EVENT_COLUMNS =
  'sequence, event_type, subject_kind, subject_id, actor, payload, payload_digest, chain_digest, created_at';

/** A ~200-byte payload event, about the size of a package creation. */
function sampleDraft(): EventDraft {
  return makeEvent(
    { event_type: 'v1.bench.appended', subject_kind: 'bench', subject_id: randomUUID(), actor: 'bench' },
    {
      name: 'bench-package',
      producer: 'ci',
      subject: 'git:0123456789abcdef',
      metadata: { build: 1, tag: 'x' },
    },
  );
}

/** A plain copy of the events table (columns and indexes), for the raw INSERT baseline. */
async function createRawTable(core: CoreContext): Promise<void> {
  await core.database.write(async (tx) => {
    const blob = tx.dialect === 'postgres' ? 'bytea' : 'BLOB';
    const int = tx.dialect === 'postgres' ? 'bigint' : 'INTEGER';
    const time = tx.dialect === 'postgres' ? 'timestamptz(3)' : 'TEXT';
    await tx.run(`CREATE TABLE bench_raw_events (sequence ${int} PRIMARY KEY, event_type text NOT NULL,
      subject_kind text NOT NULL, subject_id text NOT NULL, actor text NOT NULL, payload ${blob} NOT NULL,
      payload_digest ${blob} NOT NULL, chain_digest ${blob} NOT NULL, created_at ${time} NOT NULL)`);
    // The same secondary index as the log, so the baseline pays the same index maintenance.
    await tx.run(
      'CREATE INDEX bench_raw_events_subject_idx ON bench_raw_events (subject_kind, subject_id, sequence)',
    );
  });
}

let rawSequence = 0;
async function insertRaw(tx: Tx, draft: EventDraft): Promise<void> {
  await tx.run(`INSERT INTO bench_raw_events (${EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, [
    ++rawSequence,
    draft.event_type,
    draft.subject_kind,
    draft.subject_id,
    draft.actor,
    draft.payload,
    draft.payload_digest,
    randomBytes(32),
    new Date().toISOString(),
  ]);
}

export interface AppendResult {
  readonly appendPerSecond: number;
  readonly rawPerSecond: number;
}

/** Events/s through EventLog.append beside plain INSERTs of the same rows, `perTx` events per transaction. */
export async function benchAppend(
  scratch: ScratchDatabase,
  count: number,
  perTx: number,
): Promise<AppendResult> {
  const core = await openCore(scratch.config);
  try {
    await createRawTable(core);
    const drafts = Array.from({ length: count }, sampleDraft);
    const timeIt = async (write: (tx: Tx, draft: EventDraft) => Promise<unknown>): Promise<number> => {
      const start = performance.now();
      for (let i = 0; i < drafts.length; i += perTx) {
        await core.database.write(async (tx) => {
          for (const draft of drafts.slice(i, i + perTx)) await write(tx, draft);
        });
      }
      return count / ((performance.now() - start) / 1000);
    };
    // Alternate the two so that drift on a shared machine hits both alike.
    const raw: number[] = [];
    const append: number[] = [];
    for (let round = 0; round < 2; round++) {
      raw.push(await timeIt(insertRaw));
      append.push(await timeIt((tx, draft) => core.eventLog.append(tx, draft)));
    }
    return { appendPerSecond: median(append), rawPerSecond: median(raw) };
  } finally {
    await core.app.close();
  }
}

class RollBack extends Error {}

export interface ReplayResult {
  readonly events: number;
  readonly replayPerSecond: number;
  /** View rows per second when the same rows are INSERTed plainly into the same tables in one transaction. */
  readonly rawRowsPerSecond: number;
  readonly replayRowsPerSecond: number;
}

/**
 * Builds a log of `events` registry events (per package: created, 3 files, finalized), then times full replays
 * beside plain INSERTs of the very rows replay writes, into copies of the view tables.
 */
export async function benchReplay(
  scratch: ScratchDatabase,
  events: number,
  runs: number,
): Promise<ReplayResult> {
  const core = await openCore(scratch.config);
  try {
    const packages = Math.ceil(events / 5);
    for (let done = 0; done < packages;) {
      const batch = Math.min(200, packages - done);
      await core.database.write(async (tx) => {
        for (let i = 0; i < batch; i++) {
          const packageId = randomUUID();
          await core.projector.appendAndApply(tx, packageCreated(packageId));
          for (const path of ['bin/tool', 'lib/tool.so', 'README.md']) {
            await core.projector.appendAndApply(tx, fileIngested(packageId, path));
          }
          await core.projector.appendAndApply(tx, packageFinalized(packageId));
        }
      });
      done += batch;
    }
    const total = packages * 5;
    // The dump comes in key order; the baseline writes the rows in the order replay does (the log's order), since
    // inserting random UUID keys costs more than inserting sorted ones.
    const dump = await core.database.read((tx) => dumpState(tx));
    for (const table of VIEW_TABLES) {
      const createdAt = table.columns.findIndex((column) => column.name === 'created_at');
      dump[table.name]?.sort((a, b) => (a[createdAt] as string).localeCompare(b[createdAt] as string));
    }
    const rows = Object.values(dump).reduce((sum, tableRows) => sum + tableRows.length, 0);
    const replay: number[] = [];
    const raw: number[] = [];
    for (let run = 0; run < runs; run++) {
      // Baseline: the very rows replay writes, as plain INSERTs into the same tables (same indexes, same
      // constraints) after the same reset, in one transaction that is then rolled back.
      let rawSeconds = 0;
      await core.database
        .write(async (tx) => {
          const rawStart = performance.now();
          await core.viewWriter.reset(tx);
          for (const table of VIEW_TABLES) {
            const columns = table.columns.map((column) => column.name);
            const sql = `INSERT INTO ${table.name} (${columns.join(', ')})
              VALUES (${columns.map(() => '?').join(', ')})`;
            for (const row of dump[table.name] ?? []) await tx.run(sql, row);
          }
          rawSeconds = (performance.now() - rawStart) / 1000;
          throw new RollBack();
        })
        .catch((error: unknown) => {
          if (!(error instanceof RollBack)) throw error;
        });
      raw.push(rows / rawSeconds);
      const start = performance.now();
      await core.projector.replayAll();
      replay.push(total / ((performance.now() - start) / 1000));
    }
    const replayPerSecond = median(replay);
    return {
      events: total,
      replayPerSecond,
      replayRowsPerSecond: (replayPerSecond * rows) / total,
      rawRowsPerSecond: median(raw),
    };
  } finally {
    await core.app.close();
  }
}

export interface TailLatencyResult {
  readonly samples: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** The append transaction alone (BEGIN … COMMIT), the floor under the tail latency. */
  readonly commitP50Ms: number;
  readonly commitP99Ms: number;
}

/**
 * Latency from the start of an append's transaction to a tailer in another application context receiving it.
 * The tailer has its own EventLog, so it learns of commits only as another process would: PostgreSQL NOTIFY, or
 * polling on SQLite (at `pollIntervalMs`).
 */
export async function benchTailLatency(
  scratch: ScratchDatabase,
  samples: number,
  pollIntervalMs: number,
): Promise<TailLatencyResult> {
  const writer = await openCore(scratch.config);
  const reader = await openCore(scratch.config);
  const controller = new AbortController();
  try {
    const started = new Map<string, number>();
    const latencies: number[] = [];
    const commits: number[] = [];
    const tailer = (async () => {
      for await (const event of reader.eventLog.tail(0, { pollIntervalMs, signal: controller.signal })) {
        const start = started.get(event.subject_id);
        if (start !== undefined) latencies.push(performance.now() - start);
        if (latencies.length === samples) return;
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 200)); // let the tailer LISTEN
    for (let i = 0; i < samples; i++) {
      const draft = sampleDraft();
      const start = performance.now();
      started.set(draft.subject_id, start);
      await writer.database.write((tx) => writer.eventLog.append(tx, draft));
      commits.push(performance.now() - start);
      await new Promise((resolve) => setTimeout(resolve, 2 + Math.random() * 8));
    }
    await tailer;
    return {
      samples,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      commitP50Ms: percentile(commits, 50),
      commitP99Ms: percentile(commits, 99),
    };
  } finally {
    controller.abort();
    await reader.app.close();
    await writer.app.close();
  }
}

export interface TailFanOutResult {
  readonly subscribers: number;
  readonly commits: number;
  /** Reads of the log the process made for its tails, per commit. */
  readonly readsPerCommit: number;
  /** Commit → each subscriber's delivery, over every delivery. */
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/**
 * `subscribers` tails in one process (as long-polls and event streams are), each from the head, while one writer
 * in the same process commits `commits` events a few milliseconds apart. Measures how many reads of the log a
 * commit costs and how long each event takes from its commit to every subscriber.
 */
export async function benchTailFanOut(
  scratch: ScratchDatabase,
  subscribers: number,
  commits: number,
): Promise<TailFanOutResult> {
  const core = await openCore(scratch.config);
  const controller = new AbortController();
  // One signal for every subscriber here, where each request would have its own.
  setMaxListeners(0, controller.signal);
  try {
    const head = await core.eventLog.headSequence();
    const committedAt = new Map<string, number>();
    const latencies: number[] = [];
    const tails = Array.from({ length: subscribers }, async () => {
      let received = 0;
      for await (const batch of core.eventLog.tailBatches(head, { signal: controller.signal })) {
        const now = performance.now();
        for (const event of batch) {
          const at = committedAt.get(event.subject_id);
          if (at !== undefined) latencies.push(now - at);
        }
        received += batch.length;
        if (received >= commits) return;
      }
    });
    while (core.eventLog.openTails < subscribers) await new Promise((resolve) => setTimeout(resolve, 5));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const readsBefore = core.eventLog.tailReads;
    for (let i = 0; i < commits; i++) {
      const draft = sampleDraft();
      await core.database.write(async (tx) => {
        await core.eventLog.append(tx, draft);
        tx.afterCommit(() => committedAt.set(draft.subject_id, performance.now()));
      });
      await new Promise((resolve) => setTimeout(resolve, 2 + Math.random() * 8));
    }
    await Promise.all(tails);
    return {
      subscribers,
      commits,
      readsPerCommit: (core.eventLog.tailReads - readsBefore) / commits,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
    };
  } finally {
    controller.abort();
    await core.app.close();
  }
}
