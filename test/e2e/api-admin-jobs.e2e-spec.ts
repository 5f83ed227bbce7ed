import { Database } from '@artifactstore/db';
import { chainDigest, EventLog } from '@artifactstore/events';
import { AdminJobs, type AdminJob } from '@artifactstore/registry';
import { RegistryViewWriter } from '@artifactstore/views';
import { runAdminJob, waitForAdminJob } from '../support/admin-jobs.js';
import { startApi, type ApiHarness } from '../support/api-harness.js';
import { Gate, intercept } from '../support/gc-gate.js';
import { createPackage, expectProblem } from '../support/http-helpers.js';
import { growLog, holdReplayAtBatch } from '../support/replay-gate.js';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';

/** More than one replay batch (1,000 events), so a job can be held between two of them. */
const LOG_EVENTS = 1_500;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

async function headOf(api: ApiHarness): Promise<number> {
  return ((await api.http().get('/readyz').expect(200)).body as { head_sequence: number }).head_sequence;
}

/** The sequence of the `n`-th event of the log. */
async function nthSequence(api: ApiHarness, n: number): Promise<number> {
  const page = await api.http().get('/v1/events').query({ since: 0, limit: n }).expect(200);
  return (page.body as { events: { sequence: number }[] }).events.at(-1)?.sequence ?? 0;
}

describe.each(dialectsUnderTest())('HTTP API: replay and verify jobs on $dialect', (dialectUnderTest) => {
  let testDatabase: TestDatabase;
  let api: ApiHarness;

  beforeAll(async () => {
    testDatabase = await dialectUnderTest.create();
    api = await startApi(testDatabase);
    await growLog(api, LOG_EVENTS);
  }, 120_000);

  afterAll(async () => {
    await api.close();
    await testDatabase.dispose();
  });

  it('POST /v1/admin/replay answers 202, the job and its Location; the job reports progress up to the head, then its result', async () => {
    const head = await headOf(api);
    const started = await api.http().post('/v1/admin/replay').expect(202);
    const job = started.body as AdminJob;
    expect(job).toEqual({
      id: expect.stringMatching(UUID) as string,
      kind: 'replay',
      state: 'running',
      progress: { events_done: 0, events_total: head },
      started_at: expect.stringMatching(TIMESTAMP) as string,
      finished_at: null,
      result: null,
      error: null,
    });
    expect(started.headers.location).toBe(`/v1/admin/jobs/${job.id}`);
    const ended = await waitForAdminJob(api.url, `/v1/admin/jobs/${job.id}`);
    expect(ended).toMatchObject({
      id: job.id,
      state: 'succeeded',
      progress: { events_done: head, events_total: head },
      finished_at: expect.stringMatching(TIMESTAMP) as string,
      result: { highest_sequence: head, identical: true },
      error: null,
    });

    const verify = await runAdminJob(api.url, 'verify');
    expect(verify).toMatchObject({
      kind: 'verify',
      state: 'succeeded',
      progress: { events_done: head, events_total: head },
      result: { ok: true, events_checked: head, head_sequence: head, first_bad_sequence: null },
    });
    const listed = (await api.http().get('/v1/admin/jobs').expect(200)).body as { items: AdminJob[] };
    expect(listed.items.slice(0, 2).map((item) => item.id)).toEqual([verify.id, job.id]);
  });

  it('runs one job at a time: a second start is 409 job_running naming the running one; health and reads are answered meanwhile', async () => {
    const pkg = await createPackage(api);
    const head = await headOf(api);
    const { gate, interception } = holdReplayAtBatch(api, 2);
    let location: string;
    try {
      const started = await api.http().post('/v1/admin/replay').expect(202);
      location = started.headers.location as string;
      await gate.arrived;
      // The first batch is applied, the second held: the job says how far it got.
      const running = (await api.http().get(location).expect(200)).body as AdminJob;
      expect(running).toMatchObject({
        state: 'running',
        progress: { events_done: await nthSequence(api, 1000), events_total: head },
      });
      for (const kind of ['replay', 'verify']) {
        const refused = await api.http().post(`/v1/admin/${kind}`);
        expectProblem(refused, 409, 'job_running');
        expect(refused.body).toMatchObject({ job: location });
        expect(refused.headers.location).toBe(location);
      }
      await api.http().get('/healthz').expect(200);
      expect((await api.http().get(`/v1/packages/${pkg.id}`).expect(200)).body).toMatchObject({ id: pkg.id });
      const listed = (await api.http().get('/v1/admin/jobs').expect(200)).body as { items: AdminJob[] };
      expect(listed.items[0]).toMatchObject({ id: running.id, state: 'running' });
    } finally {
      gate.release();
      interception.restore();
    }
    expect(await waitForAdminJob(api.url, location)).toMatchObject({
      state: 'succeeded',
      progress: { events_done: head, events_total: head },
      result: { identical: true },
    });
  });

  it('verifies without a lock: writes go on while a verify job runs, and it checks them too', async () => {
    const eventLog = api.app.get(EventLog);
    const gate = new Gate<[number, number]>((since, limit) => since > 0 && limit === 1000);
    const interception = intercept(eventLog, 'fetchSince', (original) => async (since, limit) => {
      await gate.pass(since, limit);
      return original(since, limit);
    });
    const head = await headOf(api);
    let location: string;
    try {
      location = (await api.http().post('/v1/admin/verify').expect(202)).headers.location as string;
      await gate.arrived;
      const pkg = await createPackage(api);
      await api.http().get('/healthz').expect(200);
      await api.http().get(`/v1/packages/${pkg.id}`).expect(200);
    } finally {
      gate.release();
      interception.restore();
    }
    const after = await headOf(api);
    expect(after).toBeGreaterThan(head);
    expect(await waitForAdminJob(api.url, location)).toMatchObject({
      state: 'succeeded',
      progress: { events_done: after, events_total: after },
      result: { ok: true, head_sequence: after },
    });
  });

  it('answers an unknown job 404 job_not_found, and a malformed id 400', async () => {
    expectProblem(
      await api.http().get('/v1/admin/jobs/01890a5d-ac96-774b-bcce-b302099a8057'),
      404,
      'job_not_found',
    );
    const malformed = await api.http().get('/v1/admin/jobs/not-a-job');
    expectProblem(malformed, 400, 'invalid_input');
    expect(malformed.body).toMatchObject({ field: 'job_id' });
  });

  it('reports a failed job with its error, says nothing internal, and leaves the views as they were', async () => {
    const interception = intercept(api.app.get(RegistryViewWriter), 'applyBatch', () => () => {
      return Promise.reject(new Error('secret internal detail'));
    });
    let job: AdminJob;
    try {
      job = await runAdminJob(api.url, 'replay');
    } finally {
      interception.restore();
    }
    expect(job).toMatchObject({
      state: 'failed',
      finished_at: expect.stringMatching(TIMESTAMP) as string,
      result: null,
      error: { code: 'internal_error', detail: expect.stringContaining(job.id) as string },
    });
    expect(JSON.stringify(job)).not.toContain('secret');
    // Rolled back: the views are those of before, so the next replay finds them identical.
    expect((await runAdminJob(api.url, 'replay')).result).toMatchObject({ identical: true });
  });

  // Last: the log it leaves cannot be replayed.
  it('fails a replay whose log holds an event its view refuses with projection_error; the chain still verifies', async () => {
    const pkg = await createPackage(api);
    await api.http().post(`/v1/packages/${pkg.id}/finalize`).expect(200);
    const eventLog = api.app.get(EventLog);
    const [finalized] = await eventLog.fetchSince((await headOf(api)) - 1, 1);
    if (!finalized) throw new Error('no finalized event');
    // The same package finalized twice: a log no registry writes, continuing the chain.
    const again = { ...finalized, sequence: finalized.sequence + 1 };
    const duplicate = { ...again, chain_digest: chainDigest(finalized.chain_digest, again) };
    await api.app.get(Database).write((tx) => eventLog.importEvents(tx, [duplicate]));

    const replay = await runAdminJob(api.url, 'replay');
    expect(replay).toMatchObject({
      state: 'failed',
      result: null,
      error: { code: 'projection_error', detail: expect.stringContaining(pkg.id) as string },
    });
    expect((await runAdminJob(api.url, 'verify')).result).toMatchObject({
      ok: true,
      head_sequence: duplicate.sequence,
    });
  });
});

describe.each(dialectsUnderTest())('replay job at shutdown on $dialect', (dialectUnderTest) => {
  it('cancels the running replay at its next batch, rolled back, and waits for it', async () => {
    const testDatabase = await dialectUnderTest.create();
    const api = await startApi(testDatabase);
    let closed = false;
    try {
      await growLog(api, LOG_EVENTS);
      const jobs = api.app.get(AdminJobs);
      let destroying!: () => void;
      const destroyed = new Promise<void>((resolve) => (destroying = resolve));
      intercept(jobs, 'onModuleDestroy', (original) => () => {
        destroying();
        return original();
      });
      const { gate } = holdReplayAtBatch(api, 2);
      const started = (await api.http().post('/v1/admin/replay').expect(202)).body as AdminJob;
      await gate.arrived;
      const closing = api.close();
      await destroyed; // the jobs are told to stop (synchronously, before this resumes)
      gate.release();
      await closing;
      closed = true;
      expect(jobs.jobs()[0]).toMatchObject({
        id: started.id,
        state: 'failed',
        error: {
          code: 'service_unavailable',
          detail: 'the server stopped during the replay; start it again',
        },
      });
    } finally {
      if (!closed) await api.close();
      await testDatabase.dispose();
    }
  }, 120_000);
});
