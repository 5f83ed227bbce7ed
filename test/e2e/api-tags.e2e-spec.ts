import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminJobResult } from '../support/admin-jobs.js';
import { startApi, type ApiHarness } from '../support/api-harness.js';
import { binary, createPackage, expectProblem, type PackageBody } from '../support/http-helpers.js';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';
import { tokensJson } from '../support/tokens-file.js';

const TOKENS = { reader: 'reader-t', producer: 'producer-t', admin: 'admin-t' } as const;
type Role = keyof typeof TOKENS;

interface TagBody {
  name: string;
  tag: string;
  package: PackageBody;
  moved_at: string;
  moved_by: string;
}

interface MoveBody {
  event_type: string;
  package_id: string | null;
  previous_package_id: string | null;
  by: string;
}

describe.each(dialectsUnderTest())('tags over HTTP ($dialect)', (dialectUnderTest) => {
  let testDatabase: TestDatabase;
  let api: ApiHarness;
  let tokensDir: string;

  beforeAll(async () => {
    tokensDir = await mkdtemp(join(tmpdir(), 'artifactstore-tokens-'));
    const tokensFile = join(tokensDir, 'tokens.json');
    await writeFile(tokensFile, tokensJson(TOKENS));
    testDatabase = await dialectUnderTest.create({
      ARTIFACTSTORE_TOKENS_FILE: tokensFile,
      ARTIFACTSTORE_IMMUTABLE_TAGS: 'v*,release-?',
    });
    api = await startApi(testDatabase);
  });

  afterAll(async () => {
    await api.close();
    await testDatabase.dispose();
    await rm(tokensDir, { recursive: true, force: true });
  });

  const as = (role: Role) => ({
    put: (path: string, body: object) =>
      api.http().put(path).set('Authorization', `Bearer ${TOKENS[role]}`).send(body),
    get: (path: string) => api.http().get(path).set('Authorization', `Bearer ${TOKENS[role]}`),
    delete: (path: string) => api.http().delete(path).set('Authorization', `Bearer ${TOKENS[role]}`),
  });

  /** A finalized package named `name` with one file `bin/app` holding `content`. */
  const release = async (name: string, content: string): Promise<PackageBody> => {
    const pkg = await createPackage(api, { name }, TOKENS.producer);
    await api
      .http()
      .put(`/v1/packages/${pkg.id}/files/bin/app`)
      .set('Authorization', `Bearer ${TOKENS.producer}`)
      .send(Buffer.from(content))
      .expect(201);
    await api
      .http()
      .post(`/v1/packages/${pkg.id}/finalize`)
      .set('Authorization', `Bearer ${TOKENS.producer}`)
      .expect(200);
    return (await as('reader').get(`/v1/packages/${pkg.id}`).expect(200)).body as PackageBody;
  };

  it('points a tag, moves it, serves its files, lists it, and keeps every move in its history', async () => {
    const one = await release('web/ui', 'one');
    const two = await release('web/ui', 'two');
    const created = await as('producer').put('/v1/tags/web%2Fui/stable', { package: one.id });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'web/ui', tag: 'stable', moved_by: 'producer-bot' });
    expect((created.body as TagBody).package.id).toBe(one.id);
    const moved = await as('producer').put('/v1/tags/web%2Fui/stable', { package: two.content_address });
    expect(moved.status).toBe(200);
    expect((moved.body as TagBody).package.id).toBe(two.id);
    const same = await as('producer').put('/v1/tags/web%2Fui/stable', { package: two.id });
    expect(same.status).toBe(200);

    const file = await as('reader').get('/v1/tags/web%2Fui/stable/files/bin/app').buffer(true).parse(binary);
    expect(file.status).toBe(200);
    expect((file.body as Buffer).toString()).toBe('two');

    const list = await as('reader').get('/v1/tags/web%2Fui').expect(200);
    expect((list.body as { items: TagBody[] }).items.map((tag) => tag.tag)).toEqual(['stable']);

    const history = await as('reader').get('/v1/tags/web%2Fui/stable/history').expect(200);
    const moves = (history.body as { items: MoveBody[] }).items;
    expect(moves.map((move) => [move.package_id, move.previous_package_id])).toEqual([
      [two.id, one.id],
      [one.id, null],
    ]);
  });

  it('refuses a package of another name, an unfinished package, a bad tag, and a reader', async () => {
    const other = await release('other', 'x');
    expectProblem(
      await as('producer').put('/v1/tags/web%2Fui/x', { package: other.id }),
      409,
      'tag_name_mismatch',
    );
    const open = await createPackage(api, { name: 'web/ui' }, TOKENS.producer);
    expectProblem(
      await as('producer').put('/v1/tags/web%2Fui/x', { package: open.id }),
      409,
      'illegal_package_state',
    );
    expectProblem(
      await as('producer').put('/v1/tags/web%2Fui/.x', { package: other.id }),
      400,
      'invalid_input',
    );
    expectProblem(await as('producer').put('/v1/tags/web%2Fui/x', {}), 400, 'invalid_input');
    expectProblem(await as('reader').put('/v1/tags/other/x', { package: other.id }), 403, 'forbidden');
    expectProblem(await as('reader').get('/v1/tags/web%2Fui/nope'), 404, 'tag_not_found');
  });

  it('keeps an immutable tag where it was set, and lets an admin delete a mutable one', async () => {
    const one = await release('lib', '1');
    const two = await release('lib', '2');
    await as('producer').put('/v1/tags/lib/v1.0', { package: one.id }).expect(201);
    expectProblem(await as('producer').put('/v1/tags/lib/v1.0', { package: two.id }), 409, 'tag_immutable');
    expectProblem(await as('admin').delete('/v1/tags/lib/v1.0'), 409, 'tag_immutable');
    await as('producer').put('/v1/tags/lib/release-1', { package: one.id }).expect(201);
    expectProblem(
      await as('producer').put('/v1/tags/lib/release-1', { package: two.id }),
      409,
      'tag_immutable',
    );
    await as('producer').put('/v1/tags/lib/release-10', { package: one.id }).expect(201);
    await as('producer').put('/v1/tags/lib/release-10', { package: two.id }).expect(200);

    await as('producer').put('/v1/tags/lib/latest', { package: two.id }).expect(201);
    expectProblem(await as('producer').delete('/v1/tags/lib/latest'), 403, 'forbidden');
    await as('admin').delete('/v1/tags/lib/latest').expect(204);
    expectProblem(await as('reader').get('/v1/tags/lib/latest'), 404, 'tag_not_found');
    const history = await as('reader').get('/v1/tags/lib/latest/history').expect(200);
    expect((history.body as { items: MoveBody[] }).items.map((move) => move.event_type)).toEqual([
      'v1.tag.deleted',
      'v1.tag.moved',
    ]);
  });

  it('rebuilds the tags by replay, byte for byte', async () => {
    expect((await adminJobResult(api.url, 'verify', { token: TOKENS.admin })).ok).toBe(true);
    expect((await adminJobResult(api.url, 'replay', { token: TOKENS.admin })).identical).toBe(true);
    expect((await as('reader').get('/v1/tags/web%2Fui/stable').expect(200)).body).toMatchObject({
      tag: 'stable',
    });
  });
});
