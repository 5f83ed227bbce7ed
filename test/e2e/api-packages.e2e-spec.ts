import { randomBytes, randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { blake3, decodeCbor, sha256 } from '@artifactstore/codec';
import { decodeManifest } from '@artifactstore/registry';
import { startApi, type ApiHarness } from '../support/api-harness.js';
import {
  binary,
  createPackage,
  expectProblem,
  rawRequest,
  type PackageBody,
} from '../support/http-helpers.js';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';

const UNKNOWN_ID = '01890a5d-ac96-774b-bcce-b302099a8057';
const digestHeader = (bytes: Buffer): string => `sha-256=:${sha256(bytes).toString('base64')}:`;

interface FileBody {
  id: string;
  relative_path: string;
  size: number;
  blake3: string;
  sha256: string;
  content_address: string;
  [field: string]: unknown;
}

describe.each(dialectsUnderTest())(
  'HTTP API: packages, files and manifests on $dialect',
  (dialectUnderTest) => {
    let testDatabase: TestDatabase;
    let api: ApiHarness;

    beforeAll(async () => {
      testDatabase = await dialectUnderTest.create({ ARTIFACTSTORE_MAX_FILE_SIZE: '1MiB' });
      api = await startApi(testDatabase);
    });

    afterAll(async () => {
      await api.close();
      await testDatabase.dispose();
    });

    const put = (pkg: PackageBody, path: string, bytes: Buffer, contentType = 'application/octet-stream') =>
      api.http().put(`/v1/packages/${pkg.id}/files/${path}`).set('Content-Type', contentType).send(bytes);
    const headSequence = async (): Promise<number> =>
      ((await api.http().get('/readyz').expect(200)).body as { head_sequence: number }).head_sequence;

    describe('POST /v1/packages', () => {
      it('creates a package: 201, Location and every field', async () => {
        const response = await api
          .http()
          .post('/v1/packages')
          .send({
            name: 'app',
            producer: 'ci',
            subject: 'git:1',
            retention_class: 'standard',
            metadata: { n: 1 },
          })
          .expect(201);
        const body = response.body as PackageBody;
        expect(response.headers.location).toBe(`/v1/packages/${body.id}`);
        expect(response.headers['x-request-id']).toEqual(expect.any(String));
        expect(body).toEqual({
          id: expect.any(String) as string,
          name: 'app',
          producer: 'ci',
          subject: 'git:1',
          retention_class: 'standard',
          status: 'created',
          metadata: { n: 1 },
          created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) as string,
          finalized_at: null,
          expires_at: null,
          held: false,
          hold_reason: null,
          removed_at: null,
          removal_reason: null,
          file_count: 0,
          total_size: 0,
          content_address: null,
        });
        expect((await api.http().get(`/v1/packages/${body.id}`).expect(200)).body).toEqual(body);
      });

      it.each([
        ['malformed JSON', '{"name": ', 'application/json'],
        ['a JSON array', '[]', 'application/json'],
        ['a form instead of JSON', 'name=app', 'application/x-www-form-urlencoded'],
        [
          'an unknown field',
          JSON.stringify({
            name: 'a',
            producer: 'b',
            subject: 'c',
            retention_class: 'standard',
            retention: 1,
          }),
          'application/json',
        ],
        [
          'a missing field',
          JSON.stringify({ name: 'a', producer: 'b', retention_class: 'standard' }),
          'application/json',
        ],
        [
          'a control character',
          JSON.stringify({ name: 'a\u0001', producer: 'b', subject: 'c', retention_class: 'standard' }),
          'application/json',
        ],
      ])('refuses %s: 400 invalid_input', async (_what, body, contentType) => {
        const response = await api.http().post('/v1/packages').set('Content-Type', contentType).send(body);
        expectProblem(response, 400, 'invalid_input');
      });

      it('refuses an unknown retention class: 422 with the known classes', async () => {
        const response = await api
          .http()
          .post('/v1/packages')
          .send({ name: 'a', producer: 'b', subject: 'c', retention_class: 'forever' });
        expectProblem(response, 422, 'unknown_retention_class');
        expect(response.body).toMatchObject({
          known_retention_classes: ['ephemeral', 'long_term', 'permanent', 'standard'],
        });
      });

      it('creates a package with the id it is given; a taken id is 409 package_conflict, with or without a key', async () => {
        const id = randomUUID();
        const body = { id, name: 'app', producer: 'ci', subject: 'git:id', retention_class: 'standard' };
        const created = await api.http().post('/v1/packages').send(body).expect(201);
        expect(created.headers.location).toBe(`/v1/packages/${id}`);
        expect(created.body).toMatchObject({ id, status: 'created' });
        const before = await headSequence();
        const again = await api
          .http()
          .post('/v1/packages')
          .send({ ...body, subject: 'git:other' });
        expectProblem(again, 409, 'package_conflict');
        expect(again.body).toMatchObject({ detail: expect.stringContaining(id) as string });
        const keyed = await api.http().post('/v1/packages').set('Idempotency-Key', `import-${id}`).send(body);
        expectProblem(keyed, 409, 'package_conflict');
        expect(await headSequence()).toBe(before);
        expectProblem(
          await api
            .http()
            .post('/v1/packages')
            .send({ ...body, id: id.toUpperCase() }),
          400,
          'invalid_input',
        );
      });

      it('answers the retry of a keyed create that named its id with that package (200), not a conflict', async () => {
        const id = randomUUID();
        const body = { id, name: 'app', producer: 'ci', subject: 'git:id', retention_class: 'standard' };
        const send = () => api.http().post('/v1/packages').set('Idempotency-Key', `import-${id}`).send(body);
        const first = await send().expect(201);
        const retry = await send().expect(200);
        expect(retry.body).toEqual(first.body);
      });

      it('refuses a JSON body over 1 MB: 413', async () => {
        const response = await api
          .http()
          .post('/v1/packages')
          .set('Content-Type', 'application/json')
          .send(JSON.stringify({ name: 'x'.repeat(1_100_000) }));
        expectProblem(response, 413, 'size_limit_exceeded');
      });
    });

    describe('GET /v1/packages', () => {
      it('lists newest first with filters and cursors', async () => {
        const producer = `p-${randomBytes(3).toString('hex')}`;
        const made: PackageBody[] = [];
        for (let i = 0; i < 3; i++) made.push(await createPackage(api, { producer }));
        const first = await api.http().get('/v1/packages').query({ producer, limit: 2 }).expect(200);
        const page1 = first.body as { items: PackageBody[]; next_cursor: string | null };
        expect(page1.items.map((pkg) => pkg.id)).toEqual([made[2]!.id, made[1]!.id]);
        const second = await api
          .http()
          .get('/v1/packages')
          .query({ producer, limit: 2, cursor: page1.next_cursor })
          .expect(200);
        expect(second.body).toEqual({
          items: [expect.objectContaining({ id: made[0]!.id })],
          next_cursor: null,
        });
        const finalized = await api
          .http()
          .get('/v1/packages')
          .query({ producer, status: 'finalized' })
          .expect(200);
        expect(finalized.body).toEqual({ items: [], next_cursor: null });
      });

      it.each([
        { limit: '0' },
        { limit: '1001' },
        { limit: 'ten' },
        { status: 'open' },
        { cursor: '!!' },
        { 'name[]': 'x' },
      ])('refuses %j: 400 invalid_input', async (query) => {
        expectProblem(await api.http().get('/v1/packages').query(query), 400, 'invalid_input');
      });

      it('refuses a repeated filter', async () => {
        expectProblem(await api.http().get('/v1/packages?name=a&name=b'), 400, 'invalid_input');
      });
    });

    describe('GET /v1/packages/{id}', () => {
      it('answers 404 package_not_found for an unknown id and 400 for a malformed one', async () => {
        expectProblem(await api.http().get(`/v1/packages/${UNKNOWN_ID}`), 404, 'package_not_found');
        expectProblem(await api.http().get('/v1/packages/nope'), 400, 'invalid_input');
      });
    });

    describe('PUT /v1/packages/{id}/files/{relative_path}', () => {
      let pkg: PackageBody;
      beforeEach(async () => {
        pkg = await createPackage(api);
      });

      it('stores the raw body: 201, Location and the file', async () => {
        const bytes = randomBytes(50_000);
        const response = await put(pkg, 'dir/data.bin', bytes)
          .set('Content-Digest', digestHeader(bytes))
          .expect(201);
        const file = response.body as FileBody;
        expect(response.headers.location).toBe(`/v1/files/${file.id}`);
        expect(file).toEqual({
          id: expect.any(String) as string,
          package_id: pkg.id,
          relative_path: 'dir/data.bin',
          media_type: 'application/octet-stream',
          size: bytes.length,
          blake3: blake3(bytes).toString('hex'),
          sha256: sha256(bytes).toString('hex'),
          content_address: `blake3:${blake3(bytes).toString('hex')}`,
          created_at: expect.any(String) as string,
        });
      });

      it.each([
        ['application/json', Buffer.from('{"not": "parsed", "spaces":   1}')],
        ['application/x-www-form-urlencoded', Buffer.from('a=1&b=%20two')],
        ['text/plain; charset=utf-8', Buffer.from('  hello\r\n')],
      ])('stores a body sent as %s byte for byte, with that media type', async (contentType, bytes) => {
        const upload = await rawRequest(
          `${api.url}/v1/packages/${pkg.id}/files/f`,
          'PUT',
          { 'Content-Type': contentType },
          bytes,
        );
        expect(upload.status).toBe(201);
        const file = JSON.parse(upload.body.toString()) as FileBody;
        expect(file.media_type).toBe(contentType);
        expect(file.sha256).toBe(sha256(bytes).toString('hex'));
        const download = await rawRequest(`${api.url}/v1/files/${file.id}`, 'GET', {}, Buffer.alloc(0));
        expect(download.body.equals(bytes)).toBe(true);
        expect(download.headers['content-type']).toBe(contentType);
      });

      it('defaults the media type when Content-Type is absent', async () => {
        const response = await new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = httpRequest(`${api.url}/v1/packages/${pkg.id}/files/raw`, { method: 'PUT' }, (res) => {
            let body = '';
            res.on('data', (chunk: Buffer) => (body += chunk.toString()));
            res.on('end', () => {
              resolve({ status: res.statusCode ?? 0, body });
            });
          });
          req.on('error', reject);
          req.end('abc');
        });
        expect(response.status).toBe(201);
        expect(JSON.parse(response.body)).toMatchObject({ media_type: 'application/octet-stream', size: 3 });
      });

      it('decodes the path segment by segment: %2F is a separator, %20 a space, NFD becomes NFC', async () => {
        const first = await put(pkg, 'a%2Fb/c%20d.txt', Buffer.from('1')).expect(201);
        expect((first.body as FileBody).relative_path).toBe('a/b/c d.txt');
        const second = await put(pkg, 'cafe%CC%81', Buffer.from('2')).expect(201);
        expect((second.body as FileBody).relative_path).toBe('café');
        const byPath = await api
          .http()
          .get(`/v1/packages/${pkg.id}/files/a/b/c%20d.txt`)
          .buffer(true)
          .parse(binary);
        expect((byPath.body as Buffer).toString()).toBe('1');
      });

      it.each(['a//b', '.hidden/..', 'x%5Cy', 'a/%2E%2E/b', '%00', 'a/'])(
        'refuses the path %s: 400 invalid_relative_path',
        async (path) => {
          expectProblem(await put(pkg, path, Buffer.from('x')), 400, 'invalid_relative_path');
        },
      );

      it('refuses a malformed percent-encoding: 400 invalid_input', async () => {
        expectProblem(await put(pkg, 'bad%zz', Buffer.from('x')), 400, 'invalid_input');
      });

      it('refuses a duplicate path (409 duplicate_relative_path) and a file/directory clash (409 path_conflict)', async () => {
        await put(pkg, 'a/b', Buffer.from('1')).expect(201);
        expectProblem(await put(pkg, 'a/b', Buffer.from('2')), 409, 'duplicate_relative_path');
        const conflict = await put(pkg, 'a', Buffer.from('3'));
        expectProblem(conflict, 409, 'path_conflict');
        expect(conflict.body).toMatchObject({ conflicts_with: 'a/b' });
      });

      it('refuses paths that differ only by letter case (409 path_conflict naming the other) and device names (400)', async () => {
        await put(pkg, 'A.txt', Buffer.from('1')).expect(201);
        await put(pkg, 'Dir/x', Buffer.from('2')).expect(201);
        const twin = await put(pkg, 'a.txt', Buffer.from('3'));
        expectProblem(twin, 409, 'path_conflict');
        expect(twin.body).toMatchObject({
          conflicts_with: 'A.txt',
          detail: '"a.txt" conflicts with "A.txt": "a.txt" and "A.txt" differ only by letter case',
        });
        const directory = await put(pkg, 'dir/y', Buffer.from('4'));
        expectProblem(directory, 409, 'path_conflict');
        expect(directory.body).toMatchObject({
          conflicts_with: 'Dir/x',
          detail: '"dir/y" conflicts with "Dir/x": "dir" and "Dir" differ only by letter case',
        });
        const device = await put(pkg, 'CON.txt', Buffer.from('5'));
        expectProblem(device, 400, 'invalid_relative_path');
        expect((device.body as { detail: string }).detail).toBe(
          'invalid relative path "CON.txt": segment "CON.txt" is a device name on Windows (CON) (portable path rule)',
        );
        expectProblem(await put(pkg, 'x%E2%80%AE.txt', Buffer.from('6')), 400, 'invalid_relative_path');
        expectProblem(await put(pkg, 'trailing.', Buffer.from('7')), 400, 'invalid_relative_path');
      });

      it('checks Content-Digest and X-Content-BLAKE3: 422 on mismatch with nothing stored, 400 when malformed', async () => {
        const bytes = randomBytes(1000);
        const before = await headSequence();
        expectProblem(
          await put(pkg, 'x', bytes).set('Content-Digest', digestHeader(Buffer.from('other'))),
          422,
          'digest_mismatch',
        );
        expectProblem(
          await put(pkg, 'x', bytes).set('X-Content-BLAKE3', blake3('other').toString('hex')),
          422,
          'digest_mismatch',
        );
        expect(await headSequence()).toBe(before);
        expectProblem(await put(pkg, 'x', bytes).set('Content-Digest', 'sha-256=abc'), 400, 'invalid_input');
        expectProblem(
          await put(pkg, 'x', bytes).set('Content-Digest', 'sha-256=:AAAA:'),
          400,
          'invalid_input',
        );
        expectProblem(await put(pkg, 'x', bytes).set('X-Content-BLAKE3', 'abc'), 400, 'invalid_input');
        // Other algorithms beside sha-256 are accepted and ignored.
        await put(pkg, 'x', bytes)
          .set('Content-Digest', `sha-512=:${Buffer.alloc(64).toString('base64')}:, ${digestHeader(bytes)}`)
          .set('X-Content-BLAKE3', blake3(bytes).toString('hex').toUpperCase())
          .expect(201);
      });

      it('refuses a file over ARTIFACTSTORE_MAX_FILE_SIZE (1 MiB here): 413, declared or streamed, nothing stored', async () => {
        const before = await headSequence();
        expectProblem(await put(pkg, 'big', Buffer.alloc(2 ** 20 + 1)), 413, 'size_limit_exceeded');
        // Chunked: no Content-Length, the limit is found while streaming.
        const streamed = await new Promise<number>((resolve, reject) => {
          const req = httpRequest(
            `${api.url}/v1/packages/${pkg.id}/files/big`,
            { method: 'PUT', headers: { 'Transfer-Encoding': 'chunked' } },
            (res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
            },
          );
          req.on('error', reject);
          for (let i = 0; i < 20; i++) req.write(Buffer.alloc(64 * 1024));
          req.end();
        });
        expect(streamed).toBe(413);
        await put(pkg, 'exact', Buffer.alloc(2 ** 20)).expect(201);
        expect(await headSequence()).toBe(before + 1);
      });

      it('refuses uploads into an unknown package (404) and a finalized one (409)', async () => {
        expectProblem(
          await api.http().put(`/v1/packages/${UNKNOWN_ID}/files/a`).send(Buffer.from('x')),
          404,
          'package_not_found',
        );
        await api.http().post(`/v1/packages/${pkg.id}/finalize`).expect(200);
        const late = await put(pkg, 'late', Buffer.from('x'));
        expectProblem(late, 409, 'illegal_package_state');
        expect(late.body).toMatchObject({ package_status: 'finalized' });
      });

      it('leaves no file, no event and no temp file when the client disconnects mid-upload', async () => {
        const before = await headSequence();
        await new Promise<void>((resolve) => {
          const req = httpRequest(`${api.url}/v1/packages/${pkg.id}/files/cut.bin`, {
            method: 'PUT',
            headers: { 'Content-Length': String(512 * 1024) },
          });
          req.on('error', () => {
            resolve();
          });
          req.write(randomBytes(128 * 1024), () => {
            setTimeout(() => {
              req.destroy();
              resolve();
            }, 100);
          });
        });
        // The server notices the reset asynchronously; give it a moment, then nothing may be left.
        const tmp = join(testDatabase.config.dataDir, 'blobs', 'tmp');
        for (let i = 0; i < 50 && (await readdir(tmp)).length > 0; i++) await sleep(100);
        expect(await readdir(tmp)).toEqual([]);
        expect(await headSequence()).toBe(before);
        expect((await api.http().get(`/v1/packages/${pkg.id}/files`).expect(200)).body).toEqual({
          items: [],
          next_cursor: null,
        });
      });
    });

    describe('downloads', () => {
      let pkg: PackageBody;
      let file: FileBody;
      const bytes = randomBytes(10_000);

      beforeAll(async () => {
        pkg = await createPackage(api);
        file = (await put(pkg, 'docs/file.bin', bytes, 'application/x-test').expect(201)).body as FileBody;
        await put(pkg, 'empty', Buffer.alloc(0)).expect(201);
      });

      it('GET /v1/files/{id}: the bytes with Content-Type, Content-Length, ETag, Accept-Ranges, Content-Digest', async () => {
        const response = await api.http().get(`/v1/files/${file.id}`).buffer(true).parse(binary).expect(200);
        expect((response.body as Buffer).equals(bytes)).toBe(true);
        expect(response.headers).toMatchObject({
          'content-type': 'application/x-test',
          'content-length': String(bytes.length),
          etag: `"${file.blake3}"`,
          'accept-ranges': 'bytes',
          'content-digest': digestHeader(bytes),
        });
      });

      it('GET by path downloads the same, and HEAD sends only the headers', async () => {
        const byPath = await api
          .http()
          .get(`/v1/packages/${pkg.id}/files/docs/file.bin`)
          .buffer(true)
          .parse(binary)
          .expect(200);
        expect((byPath.body as Buffer).equals(bytes)).toBe(true);
        const head = await api.http().head(`/v1/files/${file.id}`).expect(200);
        expect(head.headers).toMatchObject({
          'content-length': String(bytes.length),
          etag: `"${file.blake3}"`,
        });
        expect(head.text).toBeFalsy();
      });

      it('serves one range as 206, a suffix range, and several ranges as the whole body', async () => {
        const one = await api
          .http()
          .get(`/v1/files/${file.id}`)
          .set('Range', 'bytes=100-199')
          .buffer(true)
          .parse(binary)
          .expect(206);
        expect((one.body as Buffer).equals(bytes.subarray(100, 200))).toBe(true);
        expect(one.headers).toMatchObject({
          'content-range': `bytes 100-199/${bytes.length}`,
          'content-length': '100',
        });
        expect(one.headers['content-digest']).toBeUndefined();
        const suffix = await api
          .http()
          .get(`/v1/files/${file.id}`)
          .set('Range', 'bytes=-10')
          .buffer(true)
          .parse(binary)
          .expect(206);
        expect((suffix.body as Buffer).equals(bytes.subarray(-10))).toBe(true);
        const open = await api
          .http()
          .get(`/v1/files/${file.id}`)
          .set('Range', 'bytes=9990-')
          .buffer(true)
          .parse(binary)
          .expect(206);
        expect((open.body as Buffer).equals(bytes.subarray(9990))).toBe(true);
        const several = await api
          .http()
          .get(`/v1/files/${file.id}`)
          .set('Range', 'bytes=0-1, 5-6')
          .buffer(true)
          .parse(binary)
          .expect(200);
        expect((several.body as Buffer).equals(bytes)).toBe(true);
        const stale = await api
          .http()
          .get(`/v1/files/${file.id}`)
          .set('Range', 'bytes=0-1')
          .set('If-Range', '"other"')
          .buffer(true)
          .parse(binary)
          .expect(200);
        expect((stale.body as Buffer).length).toBe(bytes.length);
      });

      it('answers an unsatisfiable range with 416 and Content-Range: bytes */size', async () => {
        const response = await api.http().get(`/v1/files/${file.id}`).set('Range', `bytes=${bytes.length}-`);
        expectProblem(response, 416, 'range_not_satisfiable');
        expect(response.headers['content-range']).toBe(`bytes */${bytes.length}`);
        const empty = (await api.http().get(`/v1/packages/${pkg.id}/files/empty`).expect(200)).headers;
        expect(empty['content-length']).toBe('0');
        expectProblem(
          await api.http().get(`/v1/packages/${pkg.id}/files/empty`).set('Range', 'bytes=0-0'),
          416,
          'range_not_satisfiable',
        );
      });

      it('answers If-None-Match with 304', async () => {
        await api
          .http()
          .get(`/v1/files/${file.id}`)
          .set('If-None-Match', `"x", "${file.blake3}"`)
          .expect(304);
        await api.http().get(`/v1/files/${file.id}`).set('If-None-Match', '*').expect(304);
        await api.http().get(`/v1/files/${file.id}`).set('If-None-Match', '"other"').expect(200);
      });

      it('answers 500 integrity_error, describing no file, when a stored file fails verification before its first byte', async () => {
        const own = await createPackage(api);
        const stored = (await put(own, 'damaged.bin', randomBytes(20_000)).expect(201)).body as FileBody;
        const hex = stored.blake3;
        const blob = join(testDatabase.config.dataDir, 'blobs', hex.slice(0, 2), hex.slice(2, 4), hex);
        const onDisk = await readFile(blob);
        onDisk[123] = (onDisk[123] ?? 0) ^ 0xff;
        await writeFile(blob, onDisk);

        const response = await api.http().get(`/v1/files/${stored.id}`);
        expectProblem(response, 500, 'integrity_error');
        expect(response.headers['content-length']).toBe(String(Buffer.byteLength(response.text)));
        for (const name of ['etag', 'content-digest', 'accept-ranges', 'last-modified'])
          expect(response.headers[name]).toBeUndefined();
        // The damage is reported, not the storage path.
        expect(response.text).not.toContain(hex);
      });

      it('answers 404 file_not_found for unknown files, and lists files in path order', async () => {
        expectProblem(await api.http().get(`/v1/files/${UNKNOWN_ID}`), 404, 'file_not_found');
        expectProblem(await api.http().get(`/v1/packages/${pkg.id}/files/nope`), 404, 'file_not_found');
        const list = await api.http().get(`/v1/packages/${pkg.id}/files`).query({ limit: 1 }).expect(200);
        const page = list.body as { items: FileBody[]; next_cursor: string };
        expect(page.items.map((item) => item.relative_path)).toEqual(['docs/file.bin']);
        const rest = await api
          .http()
          .get(`/v1/packages/${pkg.id}/files`)
          .query({ limit: 1, cursor: page.next_cursor })
          .expect(200);
        expect(rest.body).toEqual({
          items: [expect.objectContaining({ relative_path: 'empty' })],
          next_cursor: null,
        });
        expectProblem(await api.http().get(`/v1/packages/${UNKNOWN_ID}/files`), 404, 'package_not_found');
      });
    });

    describe('finalize and manifests', () => {
      let pkg: PackageBody;
      let address: string;

      beforeAll(async () => {
        pkg = await createPackage(api, { metadata: { build: 7 } });
        await put(pkg, 'b.txt', Buffer.from('bee\n'), 'text/plain').expect(201);
        await put(pkg, 'a/x.bin', Buffer.alloc(0)).expect(201);
        expectProblem(await api.http().get(`/v1/packages/${pkg.id}/manifest`), 409, 'illegal_package_state');
        const response = await api.http().post(`/v1/packages/${pkg.id}/finalize`).expect(200);
        address = (response.body as { content_address: string }).content_address;
        expect(response.body).toEqual({
          id: pkg.id,
          status: 'finalized',
          content_address: `blake3:${(response.body as { manifest_digest: string }).manifest_digest}`,
          manifest_digest: expect.stringMatching(/^[0-9a-f]{64}$/) as string,
        });
      });

      it('refuses a second finalize: 409', async () => {
        expectProblem(await api.http().post(`/v1/packages/${pkg.id}/finalize`), 409, 'illegal_package_state');
        expectProblem(await api.http().post(`/v1/packages/${UNKNOWN_ID}/finalize`), 404, 'package_not_found');
      });

      it('shows the finalized package with its content address', async () => {
        expect((await api.http().get(`/v1/packages/${pkg.id}`).expect(200)).body).toMatchObject({
          status: 'finalized',
          content_address: address,
          file_count: 2,
          total_size: 4,
          finalized_at: expect.any(String) as string,
          expires_at: expect.any(String) as string,
        });
      });

      it.each([
        ['no Accept', undefined],
        ['*/*', '*/*'],
        ['application/cbor', 'application/cbor'],
        ['a preference for CBOR', 'application/json;q=0.5, application/cbor'],
      ])('serves CBOR for %s, with ETag and Vary', async (_what, accept) => {
        const call = api.http().get(`/v1/packages/${pkg.id}/manifest`).buffer(true).parse(binary);
        if (accept) void call.set('Accept', accept);
        const response = await call.expect(200);
        const bytes = response.body as Buffer;
        expect(`blake3:${blake3(bytes).toString('hex')}`).toBe(address);
        expect(response.headers).toMatchObject({
          'content-type': 'application/cbor',
          etag: `"${address}"`,
          vary: 'Accept',
        });
        expect(decodeManifest(bytes).files.map((entry) => entry.relative_path)).toEqual(['a/x.bin', 'b.txt']);
      });

      it('serves JCS JSON for Accept: application/json and for ?format=json (which wins over Accept)', async () => {
        const byAccept = await api
          .http()
          .get(`/v1/manifests/${address}`)
          .set('Accept', 'application/json')
          .buffer(true)
          .parse(binary)
          .expect(200);
        expect(byAccept.headers).toMatchObject({
          'content-type': 'application/json',
          etag: `"${address}.json"`,
          vary: 'Accept',
        });
        const cbor = (await api.http().get(`/v1/manifests/${address}`).buffer(true).parse(binary).expect(200))
          .body as Buffer;
        const projected = decodeCbor(cbor) as { files: unknown[] };
        expect(JSON.parse((byAccept.body as Buffer).toString('utf8'))).toMatchObject({
          files: expect.any(Array) as unknown[],
        });
        expect(
          (JSON.parse((byAccept.body as Buffer).toString('utf8')) as { files: unknown[] }).files,
        ).toHaveLength(projected.files.length);
        const byQuery = await api
          .http()
          .get(`/v1/manifests/${address}?format=json`)
          .set('Accept', 'application/cbor')
          .buffer(true)
          .parse(binary)
          .expect(200);
        expect((byQuery.body as Buffer).equals(byAccept.body as Buffer)).toBe(true);
        const forced = await api
          .http()
          .get(`/v1/manifests/${address}?format=cbor`)
          .set('Accept', 'application/json')
          .buffer(true)
          .parse(binary)
          .expect(200);
        expect((forced.body as Buffer).equals(cbor)).toBe(true);
      });

      it('answers If-None-Match per form with 304', async () => {
        await api.http().get(`/v1/manifests/${address}`).set('If-None-Match', `"${address}"`).expect(304);
        await api
          .http()
          .get(`/v1/manifests/${address}`)
          .set('Accept', 'application/json')
          .set('If-None-Match', `"${address}"`)
          .expect(200);
        await api
          .http()
          .get(`/v1/manifests/${address}`)
          .set('Accept', 'application/json')
          .set('If-None-Match', `"${address}.json"`)
          .expect(304);
      });

      it('refuses what it cannot serve: 406, 400, 404', async () => {
        for (const path of [`/v1/manifests/${address}`, `/v1/packages/${pkg.id}/manifest`]) {
          const refused = await api.http().get(path).set('Accept', 'text/html');
          expectProblem(refused, 406, 'not_acceptable');
          // Another Accept would have been served: a cache must not answer it with this 406.
          expect(refused.headers.vary).toBe('Accept');
        }
        expectProblem(await api.http().get(`/v1/manifests/${address}?format=xml`), 400, 'invalid_input');
        for (const path of [`/v1/manifests/${address}`, `/v1/packages/${pkg.id}/manifest`]) {
          // A typo is refused, as on every endpoint with query parameters, not served as the default form.
          const typo = await api.http().get(`${path}?formt=json`);
          expectProblem(typo, 400, 'invalid_input');
          expect(typo.body).toMatchObject({ field: 'formt' });
        }
        expectProblem(
          await api.http().get(`/v1/manifests/blake3:${'0'.repeat(64)}`),
          404,
          'manifest_not_found',
        );
        expectProblem(await api.http().get('/v1/manifests/sha256:abc'), 400, 'invalid_input');
        expectProblem(await api.http().get('/v1/manifests/blake3:ABC'), 400, 'invalid_input');
      });
    });

    it('answers an unknown route with 404 not_found as problem+json, with a request id', async () => {
      const response = await api.http().get('/v1/nothing-here');
      expectProblem(response, 404, 'not_found');
      expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      // No trusted proxies here: a client's own X-Request-Id is not taken (api-operations tests a gateway's).
      const generated = await api.http().get('/healthz').set('X-Request-Id', 'client-123');
      expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    });
  },
);
