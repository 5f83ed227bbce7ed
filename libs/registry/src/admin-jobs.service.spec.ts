import { Logger } from '@nestjs/common';
import { Clock } from '@artifactstore/config';
import { DatabaseError } from '@artifactstore/db';
import type { VerifyChainOptions } from '@artifactstore/events';
import { AdminJobs, KEPT_FINISHED_JOBS } from './admin-jobs.service.js';
import type { LogOperations, ReplayReport, ReplayViewsOptions } from './log-operations.service.js';
import { InvalidInputError, JobNotFoundError, JobRunningError } from './registry.errors.js';

/** A log of `head` events whose replay and verify wait for `proceed` (when given) before their last batch. */
function fakeLog(head: number, proceed?: Promise<void>) {
  let headError: Error | undefined;
  const log = {
    failHeadOnce(error: Error) {
      headError = error;
    },
    headSequence(): Promise<number> {
      const error = headError;
      headError = undefined;
      return error ? Promise.reject(error) : Promise.resolve(head);
    },
    async replayViews(options: ReplayViewsOptions = {}): Promise<ReplayReport> {
      options.onProgress?.(Math.min(head, 1000));
      await proceed;
      options.onProgress?.(head);
      return { head_sequence: head, state_digest_before: 'aa', state_digest_after: 'aa' };
    },
    async verifyChain(options: VerifyChainOptions = {}) {
      await proceed;
      options.onProgress?.(head);
      return {
        ok: true as const,
        eventsChecked: head,
        headSequence: head,
        headChainDigest: Buffer.alloc(32),
      };
    },
  };
  return log;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

function jobsOn(log: ReturnType<typeof fakeLog>): AdminJobs {
  return new AdminJobs(log as unknown as LogOperations, new Clock());
}

beforeAll(() => {
  Logger.overrideLogger(false);
});

describe('AdminJobs', () => {
  it('runs one job at a time: a start while one runs names the running job', async () => {
    const gate = deferred();
    const jobs = jobsOn(fakeLog(2500, gate.promise));
    const replay = await jobs.start('replay');
    expect(replay).toMatchObject({ kind: 'replay', state: 'running', progress: { events_total: 2500 } });
    expect(jobs.job(replay.id).progress).toEqual({ events_done: 1000, events_total: 2500 });
    for (const kind of ['replay', 'verify'] as const) {
      const refused = jobs.start(kind);
      await expect(refused).rejects.toThrow(JobRunningError);
      await expect(refused).rejects.toMatchObject({ jobId: replay.id, kind: 'replay' });
    }
    gate.resolve();
    await jobs.settled();
    expect(jobs.job(replay.id)).toMatchObject({
      state: 'succeeded',
      progress: { events_done: 2500, events_total: 2500 },
      result: { identical: true, highest_sequence: 2500 },
    });
    expect((await jobs.start('verify')).kind).toBe('verify');
    await jobs.settled();
  });

  it(`keeps the running job and the last ${KEPT_FINISHED_JOBS} finished, newest first`, async () => {
    const jobs = jobsOn(fakeLog(3));
    const ids: string[] = [];
    for (let i = 0; i < KEPT_FINISHED_JOBS + 5; i++) {
      ids.push((await jobs.start(i % 2 === 0 ? 'replay' : 'verify')).id);
      await jobs.settled();
    }
    expect(jobs.jobs().map((job) => job.id)).toEqual(ids.slice(5).reverse());
    expect(() => jobs.job(ids[0] ?? '')).toThrow(JobNotFoundError);
    expect(() => jobs.job('not-a-job')).toThrow(InvalidInputError);
  });

  it('starts nothing when the head cannot be read, and starts the next one', async () => {
    const log = fakeLog(3);
    const jobs = jobsOn(log);
    log.failHeadOnce(new DatabaseError('refused', 'unavailable', 'ECONNREFUSED'));
    await expect(jobs.start('replay')).rejects.toThrow(DatabaseError);
    expect(jobs.jobs()).toEqual([]);
    await jobs.start('replay');
    await jobs.settled();
    expect(jobs.jobs()).toHaveLength(1);
  });

  it('cancels the running job at its next batch when the module is destroyed, and waits for it', async () => {
    const gate = deferred();
    const jobs = jobsOn(fakeLog(2500, gate.promise));
    const replay = await jobs.start('replay');
    const destroyed = jobs.onModuleDestroy();
    gate.resolve();
    await destroyed;
    expect(jobs.job(replay.id)).toMatchObject({
      state: 'failed',
      progress: { events_done: 1000 },
      error: { code: 'service_unavailable' },
    });
  });
});
