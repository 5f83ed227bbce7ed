import { setTimeout as sleep } from 'node:timers/promises';
import type { AdminJob, AdminJobKind, ArtifactClient } from '../artifact-client.js';
import { CliError } from '../cli.errors.js';
import { printResult } from '../output.js';
import type { ProgressSink } from '../progress-reporter.js';

/** The first pause between two reads of a job; it doubles up to JOB_POLL_MAX_MS, so a short job is seen to end soon. */
const JOB_POLL_FIRST_MS = 100;
const JOB_POLL_MAX_MS = 1_000;
/** Off a terminal, a progress line at most this often, so logs stay short. */
const JOB_LOG_MS = 5_000;

export interface JobCommandOptions {
  /** Wait for the job to end; false (`--no-wait`): print the job and return. */
  readonly wait: boolean;
  readonly json?: boolean;
}

/**
 * `replay [--no-wait]` (admin): start a job that rebuilds the views from the log, wait for it (progress on stderr),
 * and print the state digests before and after. A job that failed exits with its code's status.
 */
export async function replay(
  client: ArtifactClient,
  options: JobCommandOptions,
  sink: ProgressSink = process.stderr,
): Promise<void> {
  const job = await runJob(client, 'replay', options, sink);
  if (job?.kind !== 'replay') return;
  const result = succeeded(job);
  printResult(options.json, result, () =>
    [
      `replayed through event ${result.highest_sequence}`,
      `state digest before  ${result.state_digest_before}`,
      `state digest after   ${result.state_digest_after}`,
      result.identical
        ? 'the views were already exact'
        : 'the views had drifted and were rebuilt from the log',
    ].join('\n'),
  );
}

/**
 * `check [--no-wait]` (admin): start a job that verifies every payload and chain digest of the log, wait for it,
 * and print the verdict; exit 4 when the chain is broken.
 */
export async function check(
  client: ArtifactClient,
  options: JobCommandOptions,
  sink: ProgressSink = process.stderr,
): Promise<void> {
  const job = await runJob(client, 'verify', options, sink);
  if (job?.kind !== 'verify') return;
  const result = succeeded(job);
  printResult(options.json, result, () =>
    result.ok
      ? `event chain intact: ${result.events_checked} events checked`
      : `event chain BROKEN at event ${result.first_bad_sequence ?? '?'} (${result.events_checked} checked)`,
  );
  if (!result.ok) {
    throw new CliError(
      'chain_broken',
      `the event log is damaged at event ${result.first_bad_sequence ?? '?'}`,
    );
  }
}

/**
 * Starts a job of `kind` and, unless told not to wait (then it prints the job and answers undefined), waits for it
 * to end and answers it. When a job of the same kind is running already, that is the one waited for; when one of
 * the other kind is, it is waited for first (one job at a time), then ours started.
 */
async function runJob(
  client: ArtifactClient,
  kind: AdminJobKind,
  options: JobCommandOptions,
  sink: ProgressSink,
): Promise<AdminJob | undefined> {
  for (;;) {
    const { job, started } = await client.startJob(kind);
    if (!started && job.kind !== kind) {
      if (!options.wait) {
        throw new CliError(
          'job_running',
          `a ${job.kind} job is running (${job.id}); start the ${kind} once it has ended`,
        );
      }
      say(
        sink,
        `a ${job.kind} job is running (${job.id}); waiting for it to end before starting the ${kind}`,
      );
      await waitForJob(client, job, options, sink);
      continue;
    }
    if (!started) {
      say(
        sink,
        `a ${kind} job is running already (${job.id}, since ${job.started_at}): ${options.wait ? 'waiting for it' : 'not starting another'}`,
      );
    }
    if (!options.wait) {
      printResult(options.json, job, () => describeRunning(job));
      return undefined;
    }
    return waitForJob(client, job, options, sink);
  }
}

/** Reads the job until it is no longer running, showing its progress; answers it as it ended. */
async function waitForJob(
  client: ArtifactClient,
  job: AdminJob,
  options: JobCommandOptions,
  sink: ProgressSink,
): Promise<AdminJob> {
  const progress = new JobProgressLine(sink, options.json === true);
  let current = job;
  let pause = JOB_POLL_FIRST_MS;
  try {
    while (current.state === 'running') {
      progress.show(current);
      await sleep(pause);
      pause = Math.min(pause * 2, JOB_POLL_MAX_MS);
      current = await readJob(client, current.id);
    }
  } finally {
    progress.finish(current);
  }
  return current;
}

async function readJob(client: ArtifactClient, jobId: string): Promise<AdminJob> {
  try {
    return await client.getJob(jobId);
  } catch (error) {
    if (!(error instanceof CliError) || error.code !== 'job_not_found') throw error;
    // Jobs live in the memory of the server process that runs them.
    throw new CliError(
      'job_not_found',
      `the server no longer knows job ${jobId} (it restarted, or another server process answered); its outcome is unknown`,
    );
  }
}

/** The result of a job that ended; a failed one is thrown as its problem, exiting with its code's status. */
function succeeded<J extends AdminJob>(job: J): NonNullable<J['result']> {
  if (job.state === 'failed' || job.result === null) {
    const code = job.error?.code ?? 'internal_error';
    throw new CliError(
      code,
      `the ${job.kind} job ${job.id} failed: ${job.error?.detail ?? 'no reason given'}`,
    );
  }
  return job.result;
}

/** `replay: event 1500000 of 3500000 (42%)`. */
export function describeProgress(job: AdminJob): string {
  const { events_done: done, events_total: total } = job.progress;
  const percent = total === 0 ? 100 : Math.floor((100 * done) / total);
  return `${job.kind}: event ${done} of ${total} (${percent}%)`;
}

function describeRunning(job: AdminJob): string {
  return `${job.kind} job ${job.id} running since ${job.started_at}, ${describeProgress(job).replace(`${job.kind}: `, '')}; progress at /v1/admin/jobs/${job.id}`;
}

function say(sink: ProgressSink, text: string): void {
  sink.write(`artifactstore: ${text}\n`);
}

/**
 * Progress of a job being waited for: a line redrawn in place on a terminal, else a line every JOB_LOG_MS (the
 * first at once); nothing when `quiet` (`--json`).
 */
export class JobProgressLine {
  private lastLine: number | undefined;
  private drawn = false;
  private readonly tty: boolean;

  constructor(
    private readonly sink: ProgressSink,
    private readonly quiet: boolean,
    private readonly now: () => number = Date.now,
  ) {
    this.tty = sink.isTTY === true;
  }

  show(job: AdminJob): void {
    if (this.quiet) return;
    if (this.tty) {
      this.sink.write(`\r${describeProgress(job)}`);
      this.drawn = true;
    } else if (this.lastLine === undefined || this.now() - this.lastLine >= JOB_LOG_MS) {
      say(this.sink, `${describeProgress(job)} (job ${job.id})`);
      this.lastLine = this.now();
    }
  }

  /** Ends the line on a terminal, drawn with the job as it ended. */
  finish(job: AdminJob): void {
    if (!this.drawn) return;
    this.sink.write(`\r${describeProgress(job)}\n`);
  }
}
