import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256 } from '@artifactstore/codec';
import { startApi, type ApiHarness } from '../support/api-harness.js';
import { createPackage, expectProblem, type PackageBody } from '../support/http-helpers.js';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';

const TOKENS = { reader: 'reader-secret-1', producer: 'producer-secret-2', admin: 'admin-secret-3' } as const;
type Role = keyof typeof TOKENS;
const ROLES: readonly Role[] = ['reader', 'producer', 'admin'];
/** A well-formed job id no server ran. */
const UNKNOWN_JOB = '01890a5d-ac96-774b-bcce-b302099a8057';

describe.each(dialectsUnderTest())('HTTP API auth on $dialect', (dialectUnderTest) => {
  let testDatabase: TestDatabase;
  let api: ApiHarness;
  let pkg: PackageBody;
  let fileId: string;
  let tokensDir: string;

  beforeAll(async () => {
    tokensDir = await mkdtemp(join(tmpdir(), 'artifactstore-tokens-'));
    const tokensFile = join(tokensDir, 'tokens.json');
    await writeFile(
      tokensFile,
      JSON.stringify(
        ROLES.map((role) => ({
          name: `${role}-bot`,
          token_sha256: sha256(TOKENS[role]).toString('hex'),
          role,
        })),
      ),
    );
    testDatabase = await dialectUnderTest.create({ ARTIFACTSTORE_TOKENS_FILE: tokensFile });
    api = await startApi(testDatabase);
    pkg = await createPackage(api, {}, TOKENS.producer);
    const upload = await api
      .http()
      .put(`/v1/packages/${pkg.id}/files/a.txt`)
      .set('Authorization', `Bearer ${TOKENS.producer}`)
      .send(Buffer.from('a'))
      .expect(201);
    fileId = (upload.body as { id: string }).id;
  });

  afterAll(async () => {
    await api.close();
    await testDatabase.dispose();
    await rm(tokensDir, { recursive: true, force: true });
  });

  // [method, path, the lowest role allowed]
  const ENDPOINTS: readonly [string, () => string, Role][] = [
    ['GET', () => '/v1/packages', 'reader'],
    ['GET', () => `/v1/packages/${pkg.id}`, 'reader'],
    ['GET', () => `/v1/packages/${pkg.id}/files`, 'reader'],
    ['GET', () => `/v1/packages/${pkg.id}/files/a.txt`, 'reader'],
    ['HEAD', () => `/v1/files/${fileId}`, 'reader'],
    ['GET', () => `/v1/files/${fileId}`, 'reader'],
    ['GET', () => `/v1/packages/${pkg.id}/manifest`, 'reader'],
    ['GET', () => `/v1/manifests/blake3:${'0'.repeat(64)}`, 'reader'],
    ['GET', () => '/v1/events', 'reader'],
    ['POST', () => '/v1/packages', 'producer'],
    ['PUT', () => `/v1/packages/${pkg.id}/files/b-${Math.random()}.txt`, 'producer'],
    ['POST', () => `/v1/packages/00000000-0000-4000-8000-000000000000/finalize`, 'producer'],
    ['POST', () => '/v1/admin/verify', 'admin'],
    ['POST', () => '/v1/admin/replay', 'admin'],
    ['GET', () => '/v1/admin/jobs', 'admin'],
    ['GET', () => `/v1/admin/jobs/${UNKNOWN_JOB}`, 'admin'],
  ];

  const send = (method: string, path: string, token?: string) => {
    const agent = api.http();
    const call =
      method === 'GET'
        ? agent.get(path)
        : method === 'HEAD'
          ? agent.head(path)
          : method === 'PUT'
            ? agent.put(path).send(Buffer.from('x'))
            : agent.post(path).send({ name: 'n', producer: 'p', subject: 's', retention_class: 'standard' });
    return token === undefined ? call : call.set('Authorization', `Bearer ${token}`);
  };

  describe.each(ENDPOINTS)('%s %s', (method, path, lowest) => {
    it('answers 401 unauthorized without a token, or with an unknown one', async () => {
      for (const token of [undefined, 'wrong-token']) {
        const response = await send(method, path(), token);
        expect(response.status).toBe(401);
        expect(response.headers['www-authenticate']).toMatch(/^Bearer realm="artifactstore"/);
        if (method !== 'HEAD') expectProblem(response, 401, 'unauthorized');
      }
    });

    it.each(ROLES)('as %s', async (role) => {
      const response = await send(method, path(), TOKENS[role]);
      if (ROLES.indexOf(role) >= ROLES.indexOf(lowest)) {
        expect([401, 403]).not.toContain(response.status);
      } else {
        expectProblem(response, 403, 'forbidden');
      }
    });
  });

  it('records the token name as the actor', async () => {
    const events = await api
      .http()
      .get('/v1/events')
      .set('Authorization', `Bearer ${TOKENS.reader}`)
      .expect(200);
    const created = (
      events.body as { events: { subject_id: string; event_type: string; actor: string }[] }
    ).events.find((event) => event.subject_id === pkg.id && event.event_type === 'v1.package.created');
    expect(created?.actor).toBe('producer-bot');
  });

  it('leaves health, readiness and the API documentation open', async () => {
    await api.http().get('/healthz').expect(200);
    await api.http().get('/readyz').expect(200);
    await api.http().get('/docs').expect(200);
    await api.http().get('/docs-json').expect(200);
  });

  it('keeps readers and producers out of the admin routes whatever the spelling of the path', async () => {
    for (const path of ['/V1/ADMIN/jobs', '/v1/Admin/jobs', '/v1/admin/JOBS']) {
      const response = await api.http().get(path).set('Authorization', `Bearer ${TOKENS.reader}`);
      expect([403, 404]).toContain(response.status);
    }
    const replay = await api
      .http()
      .post('/V1/ADMIN/REPLAY')
      .set('Authorization', `Bearer ${TOKENS.producer}`);
    expect([403, 404]).toContain(replay.status);
  });

  it('refuses a malformed Authorization header', async () => {
    expectProblem(
      await api.http().get('/v1/packages').set('Authorization', `Basic ${TOKENS.admin}`),
      401,
      'unauthorized',
    );
  });
});
