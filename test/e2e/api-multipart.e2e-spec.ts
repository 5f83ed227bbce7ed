import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { blake3, sha256 } from '@artifactstore/codec';
import { startApi, type ApiHarness } from '../support/api-harness.js';
import { binary, createPackage, expectProblem, type PackageBody } from '../support/http-helpers.js';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';

interface FileBody {
  id: string;
  relative_path: string;
  media_type: string;
  size: number;
  sha256: string;
  blake3: string;
}

interface EarlyAnswer {
  status: number;
  headers: Record<string, unknown>;
  body: Record<string, unknown>;
}

/**
 * Sends only the headers of a multipart POST declaring `contentLength` bytes, and resolves with the answer if it
 * comes while the body is held back; rejects if none came within `timeoutMs` (the server waits for the body).
 */
function answerBeforeBody(url: string, contentLength: number, timeoutMs = 5000): Promise<EarlyAnswer> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, {
      method: 'POST',
      headers: {
        'Content-Type': 'multipart/form-data; boundary=XX',
        'Content-Length': String(contentLength),
      },
    });
    const timer = setTimeout(() => {
      request.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms while the body was held back`));
    }, timeoutMs);
    request.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    request.once('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.once('end', () => {
        clearTimeout(timer);
        request.destroy();
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
        });
      });
    });
    request.flushHeaders();
  });
}

describe.each(dialectsUnderTest())('HTTP API: multipart uploads on $dialect', (dialectUnderTest) => {
  let testDatabase: TestDatabase;
  let api: ApiHarness;
  let pkg: PackageBody;

  beforeAll(async () => {
    testDatabase = await dialectUnderTest.create({ ARTIFACTSTORE_MAX_FILE_SIZE: '1MiB' });
    api = await startApi(testDatabase);
  });

  beforeEach(async () => {
    pkg = await createPackage(api);
  });

  afterAll(async () => {
    await api.close();
    await testDatabase.dispose();
  });

  const form = () => api.http().post(`/v1/packages/${pkg.id}/files`);
  const head = async (): Promise<number> =>
    ((await api.http().get('/readyz').expect(200)).body as { head_sequence: number }).head_sequence;

  it('stores the file part under its own name and type, byte for byte (UTF-8 filenames too)', async () => {
    const bytes = randomBytes(700_000);
    const response = await form()
      .attach('file', bytes, { filename: 'résumé 😀.bin', contentType: 'application/x-test' })
      .expect(201);
    const file = response.body as FileBody;
    expect(file).toMatchObject({
      relative_path: 'résumé 😀.bin',
      media_type: 'application/x-test',
      size: bytes.length,
      sha256: sha256(bytes).toString('hex'),
      blake3: blake3(bytes).toString('hex'),
    });
    expect(response.headers.location).toBe(`/v1/files/${file.id}`);
    const download = await api.http().get(`/v1/files/${file.id}`).buffer(true).parse(binary).expect(200);
    expect((download.body as Buffer).equals(bytes)).toBe(true);
  });

  it('takes relative_path and media_type from fields, also when they follow the file part', async () => {
    const before = form().field('media_type', 'text/plain; charset=utf-8');
    const response = await before
      .attach('file', Buffer.from('hello\n'), {
        filename: 'ignored.txt',
        contentType: 'application/octet-stream',
      })
      .field('relative_path', 'docs/readme.txt')
      .expect(201);
    expect(response.body).toMatchObject({
      relative_path: 'docs/readme.txt',
      media_type: 'text/plain; charset=utf-8',
    });
  });

  it('ignores empty optional fields, as Swagger UI sends them', async () => {
    const response = await form()
      .field('relative_path', '')
      .field('media_type', '')
      .attach('file', Buffer.from('x'), { filename: 'x.txt', contentType: 'text/plain' })
      .expect(201);
    expect(response.body).toMatchObject({ relative_path: 'x.txt', media_type: 'text/plain' });
  });

  it('refuses a form without a file part, or with the file under another name: 400', async () => {
    expectProblem(await form().field('relative_path', 'a'), 400, 'invalid_input');
    expectProblem(await form().attach('upload', Buffer.from('x'), 'x.txt'), 400, 'invalid_input');
    expectProblem(
      await form().set('Content-Type', 'application/json').send({ file: 'x' }),
      400,
      'invalid_input',
    );
  });

  it('refuses a malformed multipart body with 400, not 500', async () => {
    expectProblem(await form().set('Content-Type', 'multipart/form-data').send('x'), 400, 'invalid_input');
    expectProblem(
      await form()
        .set('Content-Type', 'multipart/form-data; boundary=XX')
        .send('--XX\r\nContent-Disposition: form-da'),
      400,
      'invalid_input',
    );
  });

  it('refuses a file over the limit (413) and stores nothing', async () => {
    const before = await head();
    expectProblem(
      await form().attach('file', Buffer.alloc(2 ** 20 + 1), 'big.bin'),
      413,
      'size_limit_exceeded',
    );
    expect(await head()).toBe(before);
    expect((await api.http().get(`/v1/packages/${pkg.id}/files`).expect(200)).body).toEqual({
      items: [],
      next_cursor: null,
    });
  });

  it('refuses an unknown or finalized package, or a declared length over the limit, before reading the body', async () => {
    const big = 2 ** 20 + 64 * 1024;
    const unknown = await answerBeforeBody(
      `${api.url}/v1/packages/01890a5d-ac96-774b-bcce-b302099a8057/files`,
      big,
    );
    expect(unknown).toMatchObject({ status: 404, body: { code: 'package_not_found' } });
    expect(unknown.headers).toMatchObject({
      'content-type': 'application/problem+json',
      connection: 'close',
    });

    await api.http().post(`/v1/packages/${pkg.id}/finalize`).expect(200);
    const finalized = await answerBeforeBody(`${api.url}/v1/packages/${pkg.id}/files`, big);
    expect(finalized).toMatchObject({
      status: 409,
      headers: { connection: 'close' },
      body: { code: 'illegal_package_state', package_status: 'finalized' },
    });

    const open = await createPackage(api);
    const tooLong = await answerBeforeBody(`${api.url}/v1/packages/${open.id}/files`, 64 * 2 ** 20);
    expect(tooLong).toMatchObject({
      status: 413,
      headers: { connection: 'close' },
      body: { code: 'size_limit_exceeded' },
    });
    // A form of a file at the limit, with room for its fields, is read as usual.
    await expect(answerBeforeBody(`${api.url}/v1/packages/${open.id}/files`, big, 1000)).rejects.toThrow(
      'no answer within 1000 ms',
    );
  });

  it('applies the registry rules: bad path 400, duplicate 409, finalized package 409, unknown package 404', async () => {
    expectProblem(
      await form().attach('file', Buffer.from('x'), 'x.txt').field('relative_path', 'a/../b'),
      400,
      'invalid_relative_path',
    );
    await form().attach('file', Buffer.from('x'), 'a.txt').expect(201);
    expectProblem(await form().attach('file', Buffer.from('y'), 'a.txt'), 409, 'duplicate_relative_path');
    await api.http().post(`/v1/packages/${pkg.id}/finalize`).expect(200);
    expectProblem(await form().attach('file', Buffer.from('z'), 'b.txt'), 409, 'illegal_package_state');
    expectProblem(
      await api
        .http()
        .post('/v1/packages/01890a5d-ac96-774b-bcce-b302099a8057/files')
        .attach('file', Buffer.from('z'), 'b.txt'),
      404,
      'package_not_found',
    );
  });
});
