import { Database } from '@artifactstore/db';
import { startApi, type ApiHarness } from '../support/api-harness.js';
import { createPackage, expectProblem } from '../support/http-helpers.js';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';

/**
 * With the database gone, every endpoint that needs it answers 503 `service_unavailable` with Retry-After (a
 * client retries), never a 500 (a client gives up); liveness still answers, and the failures are counted.
 * The outage of a real PostgreSQL server under load is in the fault suite (test/faults).
 */
describe.each(dialectsUnderTest())('HTTP API without its database on $dialect', (dialectUnderTest) => {
  let testDatabase: TestDatabase;
  let api: ApiHarness;

  beforeAll(async () => {
    testDatabase = await dialectUnderTest.create();
    api = await startApi(testDatabase);
  });

  afterAll(async () => {
    await api.close();
    await testDatabase.dispose();
  });

  it('answers 503 with Retry-After on every endpoint that needs the database', async () => {
    const created = await createPackage(api);
    const finalizedId = (await createPackage(api)).id;
    const finalized = await api.http().post(`/v1/packages/${finalizedId}/finalize`).expect(200);
    const address = (finalized.body as { content_address: string }).content_address;
    const file = await api
      .http()
      .put(`/v1/packages/${created.id}/files/a.txt`)
      .set('Content-Type', 'text/plain')
      .send('hello')
      .expect(201);
    const fileId = (file.body as { id: string }).id;

    await api.app.get(Database).close();

    type Call = () => ReturnType<ReturnType<ApiHarness['http']>['get']>;
    const body = { name: 'app', producer: 'ci', subject: 's', retention_class: 'standard' };
    const calls: [string, Call][] = [
      ['POST /v1/packages', () => api.http().post('/v1/packages').send(body)],
      ['GET /v1/packages', () => api.http().get('/v1/packages')],
      ['GET /v1/packages/:id', () => api.http().get(`/v1/packages/${created.id}`)],
      ['GET /v1/packages/:id/files', () => api.http().get(`/v1/packages/${created.id}/files`)],
      ['GET /v1/packages/:id/files/a.txt', () => api.http().get(`/v1/packages/${created.id}/files/a.txt`)],
      ['GET /v1/files/:file', () => api.http().get(`/v1/files/${fileId}`)],
      ['HEAD /v1/files/:file', () => api.http().head(`/v1/files/${fileId}`)],
      [
        'PUT /v1/packages/:id/files/b.txt',
        () => api.http().put(`/v1/packages/${created.id}/files/b.txt`).send('more'),
      ],
      [
        'POST /v1/packages/:id/files',
        () =>
          api.http().post(`/v1/packages/${created.id}/files`).attach('file', Buffer.from('form'), 'c.txt'),
      ],
      ['POST /v1/packages/:id/finalize', () => api.http().post(`/v1/packages/${created.id}/finalize`)],
      ['GET /v1/packages/:id/manifest', () => api.http().get(`/v1/packages/${finalizedId}/manifest`)],
      ['GET /v1/manifests/:address', () => api.http().get(`/v1/manifests/${address}`)],
      ['GET /v1/events?since=0', () => api.http().get('/v1/events?since=0')],
      ['GET /v1/events?since=0&wait=1', () => api.http().get('/v1/events?since=0&wait=1')],
      ['POST /v1/admin/replay', () => api.http().post('/v1/admin/replay')],
      ['POST /v1/admin/verify', () => api.http().post('/v1/admin/verify')],
    ];
    for (const [what, call] of calls) {
      const response = await call();
      expect({ what, status: response.status }).toEqual({ what, status: 503 });
      expect({ what, retryAfter: response.headers['retry-after'] }).toEqual({ what, retryAfter: '5' });
      if (!what.startsWith('HEAD')) expectProblem(response, 503, 'service_unavailable');
    }
    await api.http().get('/healthz').expect(200);
    const ready = await api.http().get('/readyz');
    expectProblem(ready, 503, 'service_unavailable');
    expect(ready.headers['retry-after']).toBe('5');
    const metrics = await api.http().get('/metrics').expect(200);
    const counted = /^artifactstore_db_failures_total\{kind="unavailable"\} (\d+)$/m.exec(metrics.text);
    expect(Number(counted?.[1])).toBeGreaterThanOrEqual(calls.length);
  });
});
