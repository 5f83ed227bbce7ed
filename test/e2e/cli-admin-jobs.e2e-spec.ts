import type { ChildProcess } from 'node:child_process';
import { Database } from '@artifactstore/db';
import type { AdminJob } from '@artifactstore/registry';
import { RegistryViewWriter } from '@artifactstore/views';
import { waitForAdminJob } from '../support/admin-jobs.js';
import { startApi, type ApiHarness } from '../support/api-harness.js';
import { finished, runCli, runCliOnTerminal, startCli } from '../support/cli-runner.js';
import { intercept } from '../support/gc-gate.js';
import { growLog, holdReplayAtBatch } from '../support/replay-gate.js';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';

/** More than one replay batch (1,000 events), so a job can be held between two of them. */
const LOG_EVENTS = 1_500;
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

/** Resolves once the child has written text matching `pattern` to stderr. */
function stderrShows(child: ChildProcess, pattern: RegExp): Promise<void> {
  let seen = '';
  return new Promise((resolve, reject) => {
    child.stderr?.on('data', (chunk: Buffer) => {
      seen += chunk.toString('utf8');
      if (pattern.test(seen)) resolve();
    });
    child.once('exit', () => {
      reject(new Error(`exited before showing ${String(pattern)}: ${seen}`));
    });
  });
}

describe.each(dialectsUnderTest())(
  'artifactstore replay and check as server jobs on $dialect',
  (dialectUnderTest) => {
    let database: TestDatabase;
    let api: ApiHarness;
    let env: Record<string, string>;
    let head: number;

    beforeAll(async () => {
      database = await dialectUnderTest.create();
      api = await startApi(database);
      env = { ARTIFACTSTORE_URL: api.url };
      await growLog(api, LOG_EVENTS);
      head = ((await api.http().get('/readyz').expect(200)).body as { head_sequence: number }).head_sequence;
    }, 120_000);

    afterAll(async () => {
      await api.close();
      await database.dispose();
    });

    it('replay waits for the job, with progress lines on stderr off a terminal, and prints its result', async () => {
      const replay = await runCli(['replay'], env);
      expect(replay.code).toBe(0);
      expect(replay.stderr).toMatch(
        new RegExp(`^artifactstore: replay: event \\d+ of ${head} \\(\\d+%\\) \\(job ${UUID}\\)$`, 'm'),
      );
      expect(replay.stderr).not.toContain('\r');
      expect(replay.stdout).toMatch(
        new RegExp(`^replayed through event ${head}\\n.*\\n.*\\nthe views were already exact\\n$`),
      );
      const json = await runCli(['replay', '--json'], env);
      expect(JSON.parse(json.stdout)).toMatchObject({ highest_sequence: head, identical: true });
      expect(json.stderr).toBe('');
    });

    it('check on a terminal redraws one progress line, then prints the verdict', async () => {
      const check = await runCliOnTerminal(['check'], env);
      expect(check.code).toBe(0);
      expect(check.stdout).toContain(`\rverify: event ${head} of ${head} (100%)\r\n`);
      expect(check.stdout).toContain(`event chain intact: ${head} events checked`);
    });

    it('attaches to the replay already running, or waits for it before a check; --no-wait answers at once', async () => {
      const { gate, interception } = holdReplayAtBatch(api, 2);
      let location: string;
      try {
        location = (await api.http().post('/v1/admin/replay').expect(202)).headers.location as string;
        const jobId = location.split('/').at(-1) ?? '';
        await gate.arrived;

        const attached = startCli(['replay'], env);
        const replayRun = finished(attached);
        await stderrShows(attached, /replay: event 1000 of \d+/);
        const waiting = startCli(['check'], env);
        const checkRun = finished(waiting);
        await stderrShows(waiting, /waiting for it to end before starting the verify/);

        const refused = await runCli(['check', '--no-wait'], env);
        expect(refused.code).toBe(3);
        expect(refused.stderr).toMatch(/^artifactstore: job_running: a replay job is running /m);
        const same = await runCli(['replay', '--no-wait', '--json'], env);
        expect(same.code).toBe(0);
        expect(JSON.parse(same.stdout)).toMatchObject({ id: jobId, kind: 'replay', state: 'running' });

        gate.release();
        const replay = await replayRun;
        expect(replay.code).toBe(0);
        expect(replay.stderr).toContain(`a replay job is running already (${jobId}, since `);
        expect(replay.stdout).toContain(`replayed through event ${head}`);
        const check = await checkRun;
        expect(check.code).toBe(0);
        expect(check.stdout).toContain('event chain intact');
      } finally {
        gate.release();
        interception.restore();
      }
      expect((await waitForAdminJob(api.url, location)).state).toBe('succeeded');

      const started = await runCli(['check', '--no-wait'], env);
      expect(started.code).toBe(0);
      const id = new RegExp(
        `^verify job (${UUID}) running since \\S+, event \\d+ of ${head} \\(\\d+%\\); progress at /v1/admin/jobs/\\1$`,
      ).exec(started.stdout.trim())?.[1];
      expect(id).toBeDefined();
      expect((await waitForAdminJob(api.url, `/v1/admin/jobs/${id ?? ''}`)).state).toBe('succeeded');
    });

    it('exits non-zero with one line naming the error when the job failed', async () => {
      const interception = intercept(
        api.app.get(RegistryViewWriter),
        'applyBatch',
        () => () => Promise.reject(new Error('boom')),
      );
      try {
        const replay = await runCli(['replay'], env);
        expect(replay.code).toBe(1);
        expect(replay.stderr.trim().split('\n').at(-1)).toMatch(
          new RegExp(
            `^artifactstore: internal_error: the replay job ${UUID} failed: the replay failed; the server log has the details under job ${UUID}$`,
          ),
        );
        expect(replay.stdout).toBe('');
      } finally {
        interception.restore();
      }
      const jobs = (await api.http().get('/v1/admin/jobs').expect(200)).body as { items: AdminJob[] };
      expect(jobs.items[0]).toMatchObject({ kind: 'replay', state: 'failed' });
    });

    it('runs the job in its own process with --local, and waits for it', async () => {
      const target = database.config.database;
      const local = {
        ARTIFACTSTORE_DATA_DIR: database.config.dataDir,
        ...(target.dialect === 'postgres' ? { ARTIFACTSTORE_DATABASE_URL: target.url } : {}),
      };
      const replay = await runCli(['--local', 'replay', '--no-wait', '--json'], local);
      expect(replay.code).toBe(0);
      expect(JSON.parse(replay.stdout)).toMatchObject({ highest_sequence: head, identical: true });
      const check = await runCli(['--local', 'check'], local);
      expect(check.code).toBe(0);
      expect(check.stdout).toContain(`event chain intact: ${head} events checked`);
    });

    // Last: the log it leaves is damaged.
    it('check exits 4 chain_broken when an event was altered', async () => {
      await api.app.get(Database).write(async (tx) => {
        if (tx.dialect === 'postgres') {
          await tx.run('ALTER TABLE events DISABLE TRIGGER events_append_only');
          await tx.run('UPDATE events SET payload = ? WHERE sequence = ?', [Buffer.from('a0', 'hex'), 1200]);
          await tx.run('ALTER TABLE events ENABLE TRIGGER events_append_only');
        } else {
          await tx.run('DROP TRIGGER events_no_update');
          await tx.run('UPDATE events SET payload = ? WHERE sequence = ?', [Buffer.from('a0', 'hex'), 1200]);
          await tx.run(
            "CREATE TRIGGER events_no_update BEFORE UPDATE ON events BEGIN SELECT RAISE(ABORT, 'events are append-only'); END",
          );
        }
      });
      const check = await runCli(['check'], env);
      expect(check.code).toBe(4);
      expect(check.stdout).toContain('event chain BROKEN at event 1200');
      expect(check.stderr.trim().split('\n').at(-1)).toBe(
        'artifactstore: chain_broken: the event log is damaged at event 1200',
      );
    });
  },
);
