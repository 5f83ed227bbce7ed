import { performance } from 'node:perf_hooks';
import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { formatTimestamp, uuidv7 } from '@artifactstore/codec';
import { Clock } from '@artifactstore/config';
import {
  AdminJobRecord,
  jobErrorOf,
  replayResultOf,
  verifyResultOf,
  type AdminJob,
  type AdminJobKind,
  type AdminJobOutcome,
} from './admin-job.js';
import { checkId } from './input-rules.js';
import { LogOperations } from './log-operations.service.js';
import { JobNotFoundError, JobRunningError } from './registry.errors.js';

/** Finished jobs kept for `job` and `jobs`, newest first; older ones are forgotten. */
export const KEPT_FINISHED_JOBS = 20;

/** Thrown from a job's progress report once the process is stopping: the replay rolls back, the verify ends. */
class JobCancelled extends Error {
  override readonly name = 'JobCancelled';
}

/**
 * The long admin jobs, replay and verify, run in the background of this process, one at a time, so that no request
 * waits for them (a gateway would cut it) and the server keeps answering meanwhile. A job reports its progress by
 * log sequence after each batch; its outcome, and that of the last KEPT_FINISHED_JOBS, stay in memory until the
 * process ends. Neither holds more than a batch of events in memory. At shutdown the running job is cancelled at
 * its next batch (a replay rolls back) and waited for.
 */
@Injectable()
export class AdminJobs implements OnModuleDestroy {
  private readonly logger = new Logger('jobs');
  private readonly stopping = new AbortController();
  private current: AdminJobRecord | undefined;
  private pending: Promise<void> | undefined;
  /** Newest first. */
  private readonly finished: AdminJobRecord[] = [];

  constructor(
    private readonly log: LogOperations,
    private readonly clock: Clock,
  ) {}

  /**
   * Starts a job in the background and answers it as it starts (its total is the log's head now). Throws
   * JobRunningError while another job runs in this process, and the database's error when the head cannot be read
   * (the job then never existed).
   */
  async start(kind: AdminJobKind): Promise<AdminJob> {
    if (this.current) throw new JobRunningError(this.current.id, this.current.kind);
    const record = new AdminJobRecord(uuidv7(), kind, this.timestamp());
    this.current = record;
    try {
      record.setTotal(await this.log.headSequence());
    } catch (error) {
      this.current = undefined;
      throw error;
    }
    this.pending = this.execute(record);
    return record.snapshot();
  }

  /** The job of that id: running, or one of the last finished. */
  job(id: string): AdminJob {
    checkId('job_id', id);
    const record = this.current?.id === id ? this.current : this.finished.find((job) => job.id === id);
    if (!record) throw new JobNotFoundError(id);
    return record.snapshot();
  }

  /** The running job, if any, then the last finished ones: newest first. */
  jobs(): AdminJob[] {
    return [...(this.current ? [this.current] : []), ...this.finished].map((job) => job.snapshot());
  }

  /** Resolves once the job started last has ended (for tests). */
  async settled(): Promise<void> {
    await this.pending;
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping.abort();
    // The job stops at its next batch; it must not use a database that is closing.
    await this.pending;
  }

  private async execute(record: AdminJobRecord): Promise<void> {
    const { id, kind } = record;
    const started = performance.now();
    const onProgress = (sequence: number): void => {
      if (this.stopping.signal.aborted) throw new JobCancelled('the server is stopping');
      record.advance(sequence);
    };
    this.logger.log(`${kind} job ${id} started`);
    try {
      if (this.stopping.signal.aborted) throw new JobCancelled('the server is stopping');
      const outcome: AdminJobOutcome =
        kind === 'replay'
          ? {
              kind,
              result: replayResultOf(await this.log.replayViews({ onProgress }), performance.now() - started),
            }
          : { kind, result: verifyResultOf(await this.log.verifyChain({ onProgress })) };
      record.succeed(outcome, this.timestamp());
      const summary = `${kind} job ${id} done in ${Math.round(performance.now() - started)} ms: ${describeOutcome(outcome)}`;
      if (outcome.kind === 'verify' && !outcome.result.ok) this.logger.error(summary);
      else this.logger.log(summary);
    } catch (error) {
      const stopped = this.stopping.signal.aborted;
      const problem = jobErrorOf(error, record, stopped);
      record.fail(problem, this.timestamp());
      if (problem.code === 'internal_error') {
        this.logger.error(`${kind} job ${id} failed: ${describe(error)}`);
      } else if (!stopped) {
        this.logger.warn(`${kind} job ${id} failed: ${problem.code}: ${problem.detail}`);
      }
    } finally {
      this.current = undefined;
      this.finished.unshift(record);
      this.finished.splice(KEPT_FINISHED_JOBS);
    }
  }

  private timestamp(): string {
    return formatTimestamp(new Date(this.clock.now()));
  }
}

function describeOutcome(outcome: AdminJobOutcome): string {
  switch (outcome.kind) {
    case 'replay':
      return outcome.result.identical
        ? `views identical through event ${outcome.result.highest_sequence}`
        : `the views had drifted; rebuilt through event ${outcome.result.highest_sequence}`;
    case 'verify':
      return outcome.result.ok
        ? `chain intact, ${outcome.result.events_checked} events checked`
        : `chain BROKEN at event ${outcome.result.first_bad_sequence ?? '?'}`;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
