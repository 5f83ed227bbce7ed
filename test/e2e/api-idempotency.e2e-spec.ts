import { adminJobResult } from '../support/admin-jobs.js';
import { startApi, type ApiHarness } from '../support/api-harness.js';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';

const BODY = {
  name: 'webapp',
  producer: 'ci',
  subject: 'git:1',
  retention_class: 'standard',
  metadata: { a: 1 },
};

describe.each(dialectsUnderTest())('Idempotency-Key on POST /v1/packages ($dialect)', (dialectUnderTest) => {
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

  const idOf = (answer: { body: unknown }): string => (answer.body as { id: string }).id;

  const create = (key: string | undefined, body: object = BODY) => {
    const req = api.http().post('/v1/packages').set('Content-Type', 'application/json');
    return (key === undefined ? req : req.set('Idempotency-Key', key)).send(JSON.stringify(body));
  };

  it('answers a retry with the same key and body with the same package, 200 and the same Location', async () => {
    const first = await create('build-42');
    expect(first.status).toBe(201);
    const again = await create('build-42');
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(again.headers.location).toBe(first.headers.location);
    // The structured-field spelling of the same key is the same key.
    const quoted = await create('"build-42"');
    expect(quoted.status).toBe(200);
    expect(idOf(quoted)).toBe(idOf(first));
    const events = await api.http().get('/v1/events?since=0&limit=1000');
    const created = (events.body as { events: { event_type: string }[] }).events.filter(
      (event) => event.event_type === 'v1.package.created',
    );
    expect(created).toHaveLength(1);
  });

  it('refuses the same key with another body (422 idempotency_key_reused), and creates anew without a key', async () => {
    await create('build-43');
    const other = await create('build-43', { ...BODY, subject: 'git:2' });
    expect(other.status).toBe(422);
    expect(other.body).toMatchObject({ code: 'idempotency_key_reused', status: 422 });
    const [a, b] = [await create(undefined), await create(undefined)];
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(idOf(a)).not.toBe(idOf(b));
  });

  it('makes exactly one package of concurrent tries with one key', async () => {
    const answers = await Promise.all(Array.from({ length: 8 }, () => create('build-44')));
    expect(new Set(answers.map(idOf)).size).toBe(1);
    expect(answers.filter((answer) => answer.status === 201)).toHaveLength(1);
    expect(answers.filter((answer) => answer.status === 200)).toHaveLength(7);
  });

  it('refuses a key that is empty, too long or not printable ASCII', async () => {
    for (const key of ['""', 'x'.repeat(256), 'caf\u00e9']) {
      const answer = await create(key);
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ code: 'invalid_input', field: 'Idempotency-Key' });
    }
  });

  it('keeps the key through a replay', async () => {
    expect((await adminJobResult(api.url, 'replay')).identical).toBe(true);
    expect((await create('build-42')).status).toBe(200);
  });
});
