import { createHash, randomBytes } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { blake3 } from '@artifactstore/codec';
import { faultSeed, scaled } from '../support/fault-scale.js';
import { multipartForm } from '../support/multipart-form.js';
import { problemFault } from '../support/problem-answers.js';
import {
  describeRequest,
  rawHttp,
  type RawHeader,
  type RawRequest,
  type RawResponse,
} from '../support/raw-http.js';
import {
  contentEncoding,
  createBody,
  formParts,
  headerValue,
  jsonContentType,
  mediaType,
  HTTP_LAYER_EXAMPLES,
  httpLayerRefusal,
  type HttpLayerCase,
  queryString,
  rawJsonBody,
  rawPath,
} from '../support/request-arbitraries.js';
import { ServerChild } from '../support/server-child.js';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';

/** Runs per property at FAULTS_SCALE=1. */
const RUNS = 300;
const ADMIN_TOKEN = `fuzz-admin-${randomBytes(12).toString('hex')}`;
const READER_TOKEN = `fuzz-reader-${randomBytes(12).toString('hex')}`;
const ADMIN: RawHeader = ['Authorization', `Bearer ${ADMIN_TOKEN}`];

function sha256Hex(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Values an Authorization header may carry: the real tokens, near misses, other schemes, junk. */
const AUTHORIZATION_VALUES = [
  `Bearer ${ADMIN_TOKEN}`,
  `Bearer ${READER_TOKEN}`,
  `bearer ${ADMIN_TOKEN}`,
  `Bearer  ${ADMIN_TOKEN} `,
  `Bearer ${ADMIN_TOKEN}x`,
  'Bearer',
  'Bearer ',
  `Bearer ${'x'.repeat(5000)}`,
  'Basic YWRtaW46YWRtaW4=',
  'Token abc',
  '',
];

interface Fixtures {
  /** A package still open for uploads. */
  readonly open: string;
  /** A finalized package with `data/file.bin`. */
  readonly finalized: string;
  readonly fileId: string;
  readonly address: string;
  readonly etag: string;
}

describe.each(dialectsUnderTest())(
  'fuzzing every request input of the built server on $dialect',
  (dialectUnderTest) => {
    let testDatabase: TestDatabase | undefined;
    let server: ServerChild | undefined;
    let fixtures: Fixtures;
    let seed = 0;

    /** Sends `request` with the admin token unless it brings its own Authorization. */
    async function send(request: RawRequest): Promise<RawResponse> {
      const headers = request.headers ?? [];
      const authorized = headers.some(([name]) => name.toLowerCase() === 'authorization');
      return rawHttp(server!.port, { ...request, headers: authorized ? headers : [ADMIN, ...headers] });
    }

    /** The answer is below 500 and, if an error, a sound problem with a known code; throws (for fast-check) if not. */
    async function sendSound(request: RawRequest): Promise<RawResponse> {
      const response = await send(request);
      const where = `${describeRequest(request)} with headers ${JSON.stringify(
        (request.headers ?? []).map(([name, value]) => [
          name,
          Buffer.from(value).toString('latin1').slice(0, 200),
        ]),
      )}`;
      if (response.status >= 500) {
        throw new Error(`${response.status} to ${where}: ${response.body.toString().slice(0, 500)}`);
      }
      if (response.status >= 400) {
        const fault = problemFault(response, request.method);
        if (fault !== undefined) throw new Error(`${fault}\n  to ${where}\n  head: ${response.head}`);
      }
      return response;
    }

    function check<T>(property: fc.IAsyncProperty<T>, runs = RUNS): Promise<void> {
      return fc.assert(property, { numRuns: scaled(runs), seed });
    }

    /** What is wrong with the answer to a request the HTTP layer should refuse: not a 4xx, or not a problem. */
    async function httpLayerFault({ what, target, headers, contentLength, body }: HttpLayerCase) {
      const response = await send({
        method: 'PUT',
        target: Buffer.concat([Buffer.from(`/v1/packages/${fixtures.open}/files/`), target]),
        headers,
        body: body ?? Buffer.from('x'),
        contentLength,
      });
      const fault =
        response.status >= 400 && response.status < 500
          ? problemFault(response)
          : `status ${response.status}`;
      return fault === undefined ? undefined : `${what}: ${fault} (${response.head.split('\r\n')[0]})`;
    }

    beforeAll(async () => {
      seed = faultSeed(`request fuzzing on ${dialectUnderTest.dialect}`);
      testDatabase = await dialectUnderTest.create();
      const tokensFile = join(testDatabase.config.dataDir, 'tokens.json');
      await writeFile(
        tokensFile,
        JSON.stringify([
          { name: 'fuzz-admin', token_sha256: sha256Hex(ADMIN_TOKEN), role: 'admin' },
          { name: 'fuzz-reader', token_sha256: sha256Hex(READER_TOKEN), role: 'reader' },
        ]),
      );
      const target = testDatabase.config.database;
      server = await ServerChild.start({
        dataDir: testDatabase.config.dataDir,
        ...(target.dialect === 'postgres' ? { databaseUrl: target.url } : {}),
        env: { ARTIFACTSTORE_TOKENS_FILE: tokensFile, ARTIFACTSTORE_MAX_FILE_SIZE: '1MiB' },
      });
      const create = async (): Promise<string> => {
        const created = await send({
          method: 'POST',
          target: '/v1/packages',
          headers: [['Content-Type', 'application/json']],
          body: Buffer.from(
            JSON.stringify({ name: 'fuzz', producer: 'ci', subject: 'git:1', retention_class: 'standard' }),
          ),
        });
        expect(created.status).toBe(201);
        return (JSON.parse(created.body.toString()) as { id: string }).id;
      };
      const finalized = await create();
      const put = await send({
        method: 'PUT',
        target: `/v1/packages/${finalized}/files/data/file.bin`,
        body: randomBytes(5000),
      });
      expect(put.status).toBe(201);
      const file = JSON.parse(put.body.toString()) as { id: string; blake3: string };
      const done = await send({ method: 'POST', target: `/v1/packages/${finalized}/finalize` });
      expect(done.status).toBe(200);
      fixtures = {
        open: await create(),
        finalized,
        fileId: file.id,
        address: (JSON.parse(done.body.toString()) as { content_address: string }).content_address,
        etag: `"${file.blake3}"`,
      };
    });

    afterEach(() => {
      // A property that killed the server shows here, not only as a refused connection.
      expect(server!.unexpectedExits).toEqual([]);
    });

    afterAll(async () => {
      await server?.stop();
      await testDatabase?.dispose();
    });

    it('answers JSON bodies of POST /v1/packages, valid-ish and hostile, with 201 or a known 4xx problem', async () => {
      await check(
        fc.asyncProperty(createBody, jsonContentType, async (body, contentType) => {
          const response = await sendSound({
            method: 'POST',
            target: '/v1/packages',
            headers: contentType === '' ? [] : [['Content-Type', contentType]],
            body: Buffer.from(JSON.stringify(body)),
          });
          if (response.status === 201)
            expect(JSON.parse(response.body.toString())).toMatchObject({ status: 'created' });
        }),
      );
    });

    it('answers raw, deep, huge, encoded and malformed bodies of POST /v1/packages without a 5xx', async () => {
      await check(
        fc.asyncProperty(
          rawJsonBody,
          jsonContentType,
          contentEncoding,
          async (body, contentType, encoding) => {
            const headers: RawHeader[] = [['Content-Type', contentType]];
            if (encoding !== undefined) headers.push(['Content-Encoding', encoding]);
            await sendSound({ method: 'POST', target: '/v1/packages', headers, body });
          },
        ),
        RUNS / 2,
      );
    });

    it('answers PUT of any raw-byte path the HTTP parser lets through, and serves an accepted one back by it', async () => {
      await check(
        fc.asyncProperty(
          rawPath,
          mediaType,
          fc.uint8Array({ maxLength: 512 }),
          fc.constantFrom('open', 'open', 'open', 'finalized', 'bogus'),
          async (path, type, bytes, which) => {
            const id =
              which === 'open' ? fixtures.open : which === 'finalized' ? fixtures.finalized : 'not-a-uuid';
            const target = Buffer.concat([Buffer.from(`/v1/packages/${id}/files/`), path]);
            const body = Buffer.from(bytes);
            const put = await sendSound({ method: 'PUT', target, headers: [['Content-Type', type]], body });
            if (put.status !== 201) return;
            const get = await sendSound({ method: 'GET', target });
            expect({ status: get.status, sha256: sha256Hex(get.body) }).toEqual({
              status: 200,
              sha256: sha256Hex(body),
            });
          },
        ),
        RUNS * 2,
      );
    });

    it('answers GET and HEAD of any raw-byte path the HTTP parser lets through', async () => {
      await check(
        fc.asyncProperty(rawPath, fc.constantFrom('GET', 'HEAD'), async (path, method) => {
          await sendSound({
            method,
            target: Buffer.concat([Buffer.from(`/v1/packages/${fixtures.finalized}/files/`), path]),
          });
          await sendSound({ method, target: Buffer.concat([Buffer.from('/v1/packages/'), path]) });
          await sendSound({ method, target: Buffer.concat([Buffer.from('/v1/files/'), path]) });
        }),
      );
    });

    it('answers each kind of request the HTTP layer refuses by itself with a 4xx problem', async () => {
      const faults: string[] = [];
      for (const example of HTTP_LAYER_EXAMPLES) {
        const fault = await httpLayerFault(example);
        if (fault !== undefined) faults.push(fault);
      }
      expect(faults).toEqual([]);
    });

    it('answers generated variants of those refusals (any refused byte anywhere in a path, heads of any size) likewise', async () => {
      await check(
        fc.asyncProperty(httpLayerRefusal, async (example) => {
          const fault = await httpLayerFault(example);
          if (fault !== undefined) throw new Error(fault);
        }),
        RUNS / 3,
      );
    });

    it('answers every method on every route with a success or a known 4xx problem', async () => {
      const targets = [
        '/v1/packages',
        `/v1/packages/${fixtures.open}`,
        `/v1/packages/${fixtures.open}/files`,
        `/v1/packages/${fixtures.open}/files/method/probe.bin`,
        `/v1/packages/${fixtures.finalized}/finalize`,
        `/v1/packages/${fixtures.finalized}/manifest`,
        `/v1/files/${fixtures.fileId}`,
        `/v1/manifests/${fixtures.address}`,
        '/v1/events',
        '/v1/admin/verify',
        '/v1/admin/jobs',
        '/healthz',
        '/readyz',
        '/metrics',
        '/docs-json',
        '/',
      ];
      await check(
        fc.asyncProperty(
          fc.constantFrom(
            'GET',
            'HEAD',
            'POST',
            'PUT',
            'DELETE',
            'PATCH',
            'OPTIONS',
            'TRACE',
            'PROPFIND',
            'MKCOL',
            'LOCK',
            'SEARCH',
            'PURGE',
            'M-SEARCH',
          ),
          fc.constantFrom(...targets),
          fc.option(fc.uint8Array({ maxLength: 64 }), { nil: undefined }),
          fc.constantFrom(
            undefined,
            'application/json',
            'application/octet-stream',
            'multipart/form-data; boundary=b',
          ),
          async (method, target, body, contentType) => {
            await sendSound({
              method,
              target,
              headers: contentType === undefined ? [] : [['Content-Type', contentType]],
              ...(body === undefined ? {} : { body: Buffer.from(body) }),
            });
          },
        ),
      );
    });

    it('answers downloads and manifests under any Range, If-None-Match, Accept and Authorization', async () => {
      const targets = [
        `/v1/files/${fixtures.fileId}`,
        `/v1/packages/${fixtures.finalized}/files/data/file.bin`,
        `/v1/packages/${fixtures.finalized}/manifest`,
        `/v1/packages/${fixtures.finalized}/manifest?format=json`,
        `/v1/manifests/${fixtures.address}`,
        `/v1/packages/${fixtures.finalized}`,
        `/v1/packages/${fixtures.open}/files`,
      ];
      const header = (name: string, plausible: string[]) =>
        fc.option(
          headerValue(plausible).map((value): RawHeader => [name, value]),
          { nil: undefined },
        );
      await check(
        fc.asyncProperty(
          fc.constantFrom(...targets),
          fc.constantFrom('GET', 'HEAD'),
          header('Range', [
            'bytes=0-10',
            'bytes=-5',
            'bytes=5-',
            'bytes=10-5',
            'bytes=0-0,5-6',
            'bytes=4999-',
            'bytes=5000-',
            'bytes=-0',
            'bytes=99999999999999999999-',
            'bytes=0-99999999999999999999',
            'items=0-1',
            'bytes = 0-1',
            'bytes=',
          ]),
          header('If-None-Match', [
            fixtures.etag,
            '*',
            `W/${fixtures.etag}`,
            `"x", ${fixtures.etag}`,
            '"',
            '""',
          ]),
          header('Accept', [
            '*/*',
            'application/cbor',
            'application/json',
            'application/json;q=0',
            'text/html',
            'application/*',
            '*/*;q=0',
            'application/json;q=abc',
            ';',
          ]),
          header('Authorization', AUTHORIZATION_VALUES),
          header('If-Range', [fixtures.etag, 'Wed, 21 Oct 2015 07:28:00 GMT', 'junk']),
          header('X-Request-Id', ['abc', 'x'.repeat(200), '../../x', '']),
          header('X-Forwarded-For', ['1.2.3.4', '::1, 10.0.0.1', 'junk', '999.1.1.1']),
          // Only the Expect Node knows: any other is answered 417 by Node itself (the HTTP-layer property's case).
          fc.option(fc.constant<RawHeader>(['Expect', '100-continue']), { nil: undefined }),
          async (target, method, ...optional) => {
            const headers = optional.filter((entry): entry is RawHeader => entry !== undefined);
            await sendSound({ method, target, headers });
          },
        ),
        RUNS * 2,
      );
    });

    it('answers uploads under any Content-Digest, X-Content-BLAKE3, Content-Type and Authorization', async () => {
      let count = 0;
      await check(
        fc.asyncProperty(
          fc.uint8Array({ maxLength: 2048 }),
          fc.option(
            fc.oneof(
              fc.constantFrom('right', 'wrong'),
              headerValue([
                'sha-256=:AAAA:',
                'sha-512=:AAAA:',
                'sha-256=:x:, sha-512=:y:',
                'sha-256=AAAA',
                'sha-256=::',
              ]),
            ),
            { nil: undefined },
          ),
          fc.option(
            fc.oneof(fc.constantFrom('right', 'wrong'), headerValue(['0'.repeat(64), 'Z'.repeat(64), 'abc'])),
            { nil: undefined },
          ),
          fc.option(mediaType, { nil: undefined }),
          fc.option(headerValue(AUTHORIZATION_VALUES), { nil: undefined }),
          fc.boolean(),
          async (bytes, digest, blake, type, authorization, chunked) => {
            const body = Buffer.from(bytes);
            const headers: RawHeader[] = [];
            if (digest !== undefined) {
              const value =
                digest === 'right'
                  ? `sha-256=:${createHash('sha256').update(body).digest('base64')}:`
                  : digest === 'wrong'
                    ? `sha-256=:${createHash('sha256').update('other').digest('base64')}:`
                    : digest;
              headers.push(['Content-Digest', value]);
            }
            if (blake !== undefined) {
              const value =
                blake === 'right'
                  ? blake3(body).toString('hex')
                  : blake === 'wrong'
                    ? 'ab'.repeat(32)
                    : blake;
              headers.push(['X-Content-BLAKE3', value]);
            }
            if (type !== undefined) headers.push(['Content-Type', type]);
            if (authorization !== undefined) headers.push(['Authorization', authorization]);
            count += 1;
            const target = `/v1/packages/${fixtures.open}/files/upload/${count}.bin`;
            if (chunked) {
              headers.push(['Transfer-Encoding', 'chunked']);
              const framed = Buffer.concat([
                ...(body.length > 0
                  ? [Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n')]
                  : []),
                Buffer.from('0\r\n\r\n'),
              ]);
              await sendSound({ method: 'PUT', target, headers, body: framed, contentLength: false });
            } else {
              await sendSound({ method: 'PUT', target, headers, body });
            }
          },
        ),
        RUNS * 2,
      );
    });

    it('answers any query string on the list, events, files and manifest endpoints', async () => {
      const endpoints: [string, string[]][] = [
        ['/v1/packages', ['name', 'producer', 'subject', 'status', 'limit', 'cursor']],
        ['/v1/events', ['since', 'limit', 'wait']],
        [`/v1/packages/${fixtures.finalized}/files`, ['limit', 'cursor']],
        [`/v1/packages/${fixtures.finalized}/manifest`, ['format']],
      ];
      await check(
        fc.asyncProperty(
          fc
            .constantFrom(...endpoints)
            .chain(([path, names]) => queryString(names).map((query): [string, string] => [path, query])),
          async ([path, query]) => {
            // A valid wait holds the request for that many seconds: keep it at 0 (its bounds are still fuzzed).
            const safe = query.replace(
              /(^|&)(wait=)0*([1-9]\d?)(?=&|$)/g,
              (_, start: string, key: string, seconds: string) =>
                Number(seconds) <= 60 ? `${start}${key}0` : `${start}${key}${seconds}`,
            );
            await sendSound({ method: 'GET', target: `${path}?${safe}` });
          },
        ),
        RUNS * 2,
      );
    });

    it('keeps a package whole when uploads of clashing paths and a finalize race each other', async () => {
      await check(
        fc.asyncProperty(
          fc.array(fc.constantFrom('a', 'a/b', 'a/b/c', 'b', 'c/d', 'c', 'A'), {
            minLength: 2,
            maxLength: 8,
          }),
          fc.option(fc.nat({ max: 8 }), { nil: undefined }),
          async (paths, finalizeAt) => {
            const created = await sendSound({
              method: 'POST',
              target: '/v1/packages',
              headers: [['Content-Type', 'application/json']],
              body: Buffer.from(
                JSON.stringify({
                  name: 'race',
                  producer: 'ci',
                  subject: 'git:2',
                  retention_class: 'standard',
                }),
              ),
            });
            const id = (JSON.parse(created.body.toString()) as { id: string }).id;
            const uploads = paths.map((path, index) =>
              sendSound({
                method: 'PUT',
                target: `/v1/packages/${id}/files/${path}`,
                body: Buffer.from(`body ${index}`),
              }),
            );
            const finalize =
              finalizeAt === undefined
                ? undefined
                : sendSound({ method: 'POST', target: `/v1/packages/${id}/finalize` });
            const answers = await Promise.all(uploads);
            const finalized = await finalize;
            const listed = await sendSound({ method: 'GET', target: `/v1/packages/${id}/files?limit=1000` });
            const files = (
              JSON.parse(listed.body.toString()) as { items: { relative_path: string; sha256: string }[] }
            ).items;
            const acknowledged = paths
              .map((path, index) => ({
                path,
                sha256: sha256Hex(`body ${index}`),
                status: answers[index]!.status,
              }))
              .filter((upload) => upload.status === 201);
            // Exactly the acknowledged uploads are there, and no path is also a folder of another.
            expect(files.map((file) => `${file.relative_path} ${file.sha256}`).sort()).toEqual(
              acknowledged.map((upload) => `${upload.path} ${upload.sha256}`).sort(),
            );
            const names = files.map((file) => file.relative_path);
            expect(names.filter((name) => names.some((other) => other.startsWith(`${name}/`)))).toEqual([]);
            if (finalized?.status === 200) {
              const manifest = await sendSound({
                method: 'GET',
                target: `/v1/packages/${id}/manifest?format=json`,
              });
              const listedInManifest = (
                JSON.parse(manifest.body.toString()) as { files: { relative_path: string }[] }
              ).files.map((file) => file.relative_path);
              expect(listedInManifest.sort()).toEqual([...names].sort());
            }
          },
        ),
        RUNS / 3,
      );
    });

    it('answers multipart forms on POST /v1/packages/{id}/files, well-formed or not', async () => {
      await check(
        fc.asyncProperty(
          formParts,
          fc.stringMatching(/^[A-Za-z0-9'()+_,./:=?-]{1,40}$/),
          fc.constantFrom('match', 'match', 'match', 'other', 'none', 'quoted', 'unclosed'),
          fc.constantFrom('open', 'open', 'finalized'),
          async (parts, boundary, framing, which) => {
            const id = which === 'open' ? fixtures.open : fixtures.finalized;
            const body = multipartForm(parts, boundary, framing !== 'unclosed');
            const contentType =
              framing === 'none'
                ? 'multipart/form-data'
                : framing === 'other'
                  ? 'multipart/form-data; boundary=not-the-one'
                  : framing === 'quoted'
                    ? `multipart/form-data; boundary="${boundary}"`
                    : `multipart/form-data; boundary=${boundary}`;
            await sendSound({
              method: 'POST',
              target: `/v1/packages/${id}/files`,
              headers: [['Content-Type', contentType]],
              body,
            });
          },
        ),
        RUNS * 2,
      );
    });

    // Last, after every property above: refused, cut and malformed uploads must not leave their bytes behind.
    it('leaves no temporary upload file behind', async () => {
      expect(await readdir(join(testDatabase!.config.dataDir, 'blobs', 'tmp'))).toEqual([]);
    });
  },
);
