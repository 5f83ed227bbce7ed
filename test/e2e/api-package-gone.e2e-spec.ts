import { startApi, type ApiHarness } from '../support/api-harness.js';
import { createPackage, expectProblem } from '../support/http-helpers.js';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';

describe.each(dialectsUnderTest())('files of a deleted package ($dialect)', (dialectUnderTest) => {
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

  it('answer 410 package_gone to GET, HEAD and a conditional GET alike, while the metadata stays', async () => {
    const pkg = await createPackage(api);
    const upload = await api
      .http()
      .put(`/v1/packages/${pkg.id}/files/a.txt`)
      .send(Buffer.from('a'))
      .expect(201);
    const file = upload.body as { id: string; blake3: string };
    await api.http().post(`/v1/packages/${pkg.id}/finalize`).expect(200);
    await api.http().delete(`/v1/packages/${pkg.id}`).send({ reason: 'test' }).expect(200);

    const get = await api.http().get(`/v1/files/${file.id}`);
    expectProblem(get, 410, 'package_gone');
    expect(get.body).toMatchObject({ package_status: 'deleted' });
    expectProblem(await api.http().get(`/v1/packages/${pkg.id}/files/a.txt`), 410, 'package_gone');
    expect((await api.http().head(`/v1/files/${file.id}`)).status).toBe(410);
    const conditional = await api.http().get(`/v1/files/${file.id}`).set('If-None-Match', `"${file.blake3}"`);
    expectProblem(conditional, 410, 'package_gone');

    const meta = await api.http().get(`/v1/packages/${pkg.id}`).expect(200);
    expect(meta.body).toMatchObject({ status: 'deleted', removal_reason: 'test', held: false });
    await api.http().get(`/v1/packages/${pkg.id}/files`).expect(200);
    await api.http().get(`/v1/packages/${pkg.id}/manifest`).expect(200);
  });
});
