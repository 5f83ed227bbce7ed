import type { AdminJob, ArtifactClient, JobStart } from '../artifact-client.js';
import { CliError } from '../cli.errors.js';
import type { ProgressSink } from '../progress-reporter.js';
import { check, describeProgress, JobProgressLine, replay } from './admin-jobs.commands.js';
import { capturingStdout } from '../../../../test/support/stdout-capture.js';

const STARTED = '2025-01-01T00:00:00.000Z';
const FINISHED = '2025-01-01T00:00:02.000Z';
const REPLAY_ID = '01890a5d-ac96-774b-bcce-b302099a8057';
const VERIFY_ID = '01890a5d-ac96-774b-bcce-b302099a8058';

function replayJob(state: AdminJob['state'], done: number, total = 3000): AdminJob {
  return {
    id: REPLAY_ID,
    kind: 'replay',
    state,
    progress: { events_done: done, events_total: total },
    started_at: STARTED,
    finished_at: state === 'running' ? null : FINISHED,
    result:
      state === 'succeeded'
        ? {
            highest_sequence: total,
            state_digest_before: 'aa',
            state_digest_after: 'aa',
            identical: true,
            duration_ms: 5,
          }
        : null,
    error: state === 'failed' ? { code: 'service_unavailable', detail: 'the server stopped' } : null,
  };
}

function verifyJob(state: AdminJob['state'], ok = true): AdminJob {
  return {
    id: VERIFY_ID,
    kind: 'verify',
    state,
    progress: { events_done: state === 'running' ? 0 : 3000, events_total: 3000 },
    started_at: STARTED,
    finished_at: state === 'running' ? null : FINISHED,
    result:
      state === 'succeeded'
        ? {
            ok,
            events_checked: ok ? 3000 : 41,
            first_bad_sequence: ok ? null : 42,
            head_sequence: ok ? 3000 : null,
            head_chain_digest: ok ? 'cc' : null,
          }
        : null,
    error: null,
  };
}

/** A client answering `starts` to each start and `polls` to each read of a job, in turn. */
function scriptedClient(starts: JobStart[], polls: AdminJob[]): { client: ArtifactClient; reads: string[] } {
  const reads: string[] = [];
  const client = {
    startJob: () => {
      const start = starts.shift();
      return start ? Promise.resolve(start) : Promise.reject(new Error('started once too often'));
    },
    getJob: (id: string) => {
      reads.push(id);
      const job = polls.shift();
      return job ? Promise.resolve(job) : Promise.reject(new Error('read once too often'));
    },
  } as Partial<ArtifactClient> as ArtifactClient;
  return { client, reads };
}

function collecting(isTTY = false): ProgressSink & { lines: string[] } {
  const lines: string[] = [];
  return { isTTY, lines, write: (text: string) => lines.push(text) };
}

describe('replay and check', () => {
  it('replay waits for its job, progress on the sink, then prints the result', async () => {
    const { client, reads } = scriptedClient(
      [{ job: replayJob('running', 0), started: true }],
      [replayJob('running', 1000), replayJob('succeeded', 3000)],
    );
    const sink = collecting();
    const { stdout, error } = await capturingStdout(() => replay(client, { wait: true }, sink));
    expect(error).toBeUndefined();
    expect(reads).toEqual([REPLAY_ID, REPLAY_ID]);
    // Off a terminal: the first line at once, the next only after JOB_LOG_MS.
    expect(sink.lines).toEqual([`artifactstore: replay: event 0 of 3000 (0%) (job ${REPLAY_ID})\n`]);
    expect(stdout).toBe(
      'replayed through event 3000\nstate digest before  aa\nstate digest after   aa\nthe views were already exact\n',
    );
  });

  it('attaches to a replay already running, saying so', async () => {
    const { client } = scriptedClient(
      [{ job: replayJob('running', 1000), started: false }],
      [replayJob('succeeded', 3000)],
    );
    const sink = collecting();
    const { stdout, error } = await capturingStdout(() => replay(client, { wait: true, json: true }, sink));
    expect(error).toBeUndefined();
    expect(sink.lines).toEqual([
      `artifactstore: a replay job is running already (${REPLAY_ID}, since ${STARTED}): waiting for it\n`,
    ]);
    expect(JSON.parse(stdout)).toMatchObject({ highest_sequence: 3000, identical: true });
  });

  it('check waits for a running replay to end, then starts and waits for its own job; a broken chain exits 4', async () => {
    const { client, reads } = scriptedClient(
      [
        { job: replayJob('running', 1000), started: false },
        { job: verifyJob('running'), started: true },
      ],
      [replayJob('succeeded', 3000), verifyJob('succeeded', false)],
    );
    const sink = collecting();
    const { stdout, error } = await capturingStdout(() => check(client, { wait: true }, sink));
    expect(reads).toEqual([REPLAY_ID, VERIFY_ID]);
    expect(sink.lines[0]).toBe(
      `artifactstore: a replay job is running (${REPLAY_ID}); waiting for it to end before starting the verify\n`,
    );
    expect(stdout).toBe('event chain BROKEN at event 42 (41 checked)\n');
    expect(error).toBeInstanceOf(CliError);
    expect(error).toMatchObject({ code: 'chain_broken', exitStatus: 4 });
  });

  it('--no-wait prints the job and returns; refuses (exit 3) when a job of the other kind runs', async () => {
    const started = scriptedClient([{ job: verifyJob('running'), started: true }], []);
    const { stdout } = await capturingStdout(() => check(started.client, { wait: false }, collecting()));
    expect(stdout).toBe(
      `verify job ${VERIFY_ID} running since ${STARTED}, event 0 of 3000 (0%); progress at /v1/admin/jobs/${VERIFY_ID}\n`,
    );
    expect(started.reads).toEqual([]);

    const busy = scriptedClient([{ job: replayJob('running', 5), started: false }], []);
    const { error } = await capturingStdout(() => check(busy.client, { wait: false }, collecting()));
    expect(error).toMatchObject({ code: 'job_running', exitStatus: 3 });
  });

  it('a failed job exits with its error code', async () => {
    const { client } = scriptedClient(
      [{ job: replayJob('running', 0), started: true }],
      [replayJob('failed', 1000)],
    );
    const { stdout, error } = await capturingStdout(() => replay(client, { wait: true }, collecting()));
    expect(stdout).toBe('');
    expect(error).toMatchObject({
      code: 'service_unavailable',
      message: `the replay job ${REPLAY_ID} failed: the server stopped`,
      exitStatus: 5,
    });
  });
});

describe('JobProgressLine', () => {
  it('redraws one line on a terminal and ends it with the job as it ended', () => {
    const sink = collecting(true);
    const line = new JobProgressLine(sink, false);
    line.show(replayJob('running', 0));
    line.show(replayJob('running', 1500));
    line.finish(replayJob('succeeded', 3000));
    expect(sink.lines.join('')).toBe(
      '\rreplay: event 0 of 3000 (0%)\rreplay: event 1500 of 3000 (50%)\rreplay: event 3000 of 3000 (100%)\n',
    );
  });

  it('writes a plain line every few seconds elsewhere, and nothing when quiet', () => {
    let now = 0;
    const sink = collecting(false);
    const line = new JobProgressLine(sink, false, () => now);
    for (const [at, done] of [
      [0, 0],
      [1_000, 100],
      [5_000, 500],
      [9_000, 900],
    ] as const) {
      now = at;
      line.show(replayJob('running', done));
    }
    line.finish(replayJob('succeeded', 3000));
    expect(sink.lines).toEqual([
      `artifactstore: replay: event 0 of 3000 (0%) (job ${REPLAY_ID})\n`,
      `artifactstore: replay: event 500 of 3000 (16%) (job ${REPLAY_ID})\n`,
    ]);

    const quiet = collecting(true);
    const silent = new JobProgressLine(quiet, true);
    silent.show(replayJob('running', 0));
    silent.finish(replayJob('succeeded', 3000));
    expect(quiet.lines).toEqual([]);
  });

  it('counts an empty log as done', () => {
    expect(describeProgress(replayJob('running', 0, 0))).toBe('replay: event 0 of 0 (100%)');
  });
});
