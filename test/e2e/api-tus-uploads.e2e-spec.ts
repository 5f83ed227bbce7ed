import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import { blake3, sha256 } from '@artifactstore/codec';
import { Clock } from '@artifactstore/config';
import { ResumableUploads } from '@artifactstore/registry';
import { startApi, type ApiHarness } from '../support/api-harness.js';
import { binary, createPackage, expectProblem } from '../support/http-helpers.js';
import { createScratchPostgres } from '../support/scratch-database.js';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';
import { testS3Connection } from '../support/test-s3.js';
import { CuttingProxy, tusUpload } from '../support/tus-client.js';

const TOKENS = { reader: 'reader-tus', producer: 'producer-tus', admin: 'admin-tus' } as const;
type Role = keyof typeof TOKENS;
const MiB = 1 << 20;
const b64 = (text: string): string => Buffer.from(text).toString('base64');

interface Backend {
  readonly name: string;
  create(overrides: Record<string, string>): Promise<TestDatabase>;
}

function backends(): Backend[] {
  const list: Backend[] = dialectsUnderTest().map((dialect) => ({
    name: `fs on ${dialect.dialect}`,
    create: (overrides) => dialect.create(overrides),
  }));
  const s3 = testS3Connection();
  const pgUrl = process.env.ARTIFACTSTORE_TEST_PG_URL;
  if (s3 && pgUrl) {
    list.push({
      name: 'S3 on postgres',
      create: (overrides) =>
        createScratchPostgres(pgUrl, {
          ARTIFACTSTORE_STORAGE: 's3',
          ARTIFACTSTORE_S3_ENDPOINT: s3.endpoint ?? '',
          ARTIFACTSTORE_S3_BUCKET: s3.bucket,
          ARTIFACTSTORE_S3_PREFIX: `tus-${randomBytes(4).toString('hex')}/`,
          ARTIFACTSTORE_S3_FORCE_PATH_STYLE: 'true',
          ARTIFACTSTORE_S3_ACCESS_KEY_ID: s3.accessKeyId ?? '',
          ARTIFACTSTORE_S3_SECRET_ACCESS_KEY: s3.secretAccessKey ?? '',
          ...overrides,
        }),
    });
  }
  return list;
}

/** A HEAD answer has no body: its status and problem+json Content-Type say it all. */
function expectHeadProblem(
  response: { status: number; headers: Record<string, string> },
  status: number,
): void {
  expect(response.status).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
}

interface EventBody {
  event_type: string;
  actor: string;
  payload: Record<string, unknown>;
}

describe.each(backends())('tus resumable uploads ($name)', (backend) => {
  let testDatabase: TestDatabase;
  let api: ApiHarness;
  let tokensDir: string;
  const auth = (role: Role = 'producer'): string => `Bearer ${TOKENS[role]}`;

  beforeAll(async () => {
    tokensDir = await mkdtemp(join(tmpdir(), 'artifactstore-tokens-'));
    const tokensFile = join(tokensDir, 'tokens.json');
    await writeFile(
      tokensFile,
      JSON.stringify(
        (Object.keys(TOKENS) as Role[]).map((role) => ({
          name: `${role}-bot`,
          token_sha256: sha256(TOKENS[role]).toString('hex'),
          role,
        })),
      ),
    );
    testDatabase = await backend.create({
      ARTIFACTSTORE_TOKENS_FILE: tokensFile,
      ARTIFACTSTORE_MAX_FILE_SIZE: '64MiB',
    });
    api = await startApi(testDatabase);
  });

  afterAll(async () => {
    await api.close();
    await testDatabase.dispose();
    await rm(tokensDir, { recursive: true, force: true });
  });

  afterEach(() => {
    jest.restoreAllMocks();
  });

  const newPackage = async (): Promise<string> => (await createPackage(api, {}, TOKENS.producer)).id;

  const download = async (id: string, path: string): Promise<Buffer> => {
    const response = await api
      .http()
      .get(`/v1/packages/${id}/files/${path}`)
      .set('Authorization', auth('reader'))
      .buffer(true)
      .parse(binary)
      .expect(200);
    return response.body as Buffer;
  };

  const fileEvent = async (path: string): Promise<EventBody> => {
    const response = await api
      .http()
      .get('/v1/events')
      .query({ since: 0, limit: 1000 })
      .set('Authorization', auth('reader'))
      .expect(200);
    const event = (response.body as { events: EventBody[] }).events.find(
      (candidate) => candidate.event_type === 'v1.file.ingested' && candidate.payload.relative_path === path,
    );
    if (!event) throw new Error(`no v1.file.ingested for ${path}`);
    return event;
  };

  /** POSTs a tus creation; returns the upload's path. */
  const createUpload = async (id: string, length: number, metadata: string): Promise<string> => {
    const response = await api
      .http()
      .post(`/v1/packages/${id}/uploads`)
      .set('Authorization', auth())
      .set('Tus-Resumable', '1.0.0')
      .set('Upload-Length', String(length))
      .set('Upload-Metadata', metadata)
      .expect(201);
    expect(response.headers['tus-resumable']).toBe('1.0.0');
    expect(new Date(response.headers['upload-expires'] as string).getTime()).toBeGreaterThan(Date.now());
    return response.headers.location as string;
  };

  const patch = (path: string, offset: number, bytes: Buffer, headers: Record<string, string> = {}) =>
    api
      .http()
      .patch(path)
      .set('Authorization', auth())
      .set('Tus-Resumable', '1.0.0')
      .set('Content-Type', 'application/offset+octet-stream')
      .set('Upload-Offset', String(offset))
      .set(headers)
      .send(bytes);

  const head = (path: string, role: Role = 'producer') =>
    api.http().head(path).set('Authorization', auth(role)).set('Tus-Resumable', '1.0.0');

  it('takes a file from tus-js-client in chunks; it downloads byte for byte, recorded by the same event as a PUT', async () => {
    const id = await newPackage();
    const bytes = randomBytes(11 * MiB + 17);
    const outcome = await tusUpload({
      endpoint: `${api.url}/v1/packages/${id}/uploads`,
      bytes,
      chunkSize: 4 * MiB,
      metadata: { relative_path: 'dist/app.bin', media_type: 'application/x-test' },
      token: TOKENS.producer,
    });
    expect(outcome.finished).toBe(true);
    expect((await download(id, 'dist/app.bin')).equals(bytes)).toBe(true);

    await api
      .http()
      .put(`/v1/packages/${id}/files/dist/put.bin`)
      .set('Authorization', auth())
      .set('Content-Type', 'application/x-test')
      .send(bytes)
      .expect(201);
    const viaTus = await fileEvent('dist/app.bin');
    const viaPut = await fileEvent('dist/put.bin');
    const comparable = (event: EventBody) => ({
      event_type: event.event_type,
      actor: event.actor,
      keys: Object.keys(event.payload).sort(),
      media_type: event.payload.media_type,
      size: event.payload.size,
      blake3: event.payload.blake3,
      sha256: event.payload.sha256,
      backend: (event.payload.storage as { backend: string }).backend,
      key: (event.payload.storage as { key: string }).key,
    });
    expect(comparable(viaTus)).toEqual(comparable(viaPut));
    expect(viaTus.payload.blake3).toBe(blake3(bytes).toString('hex'));

    // The upload stays answerable as complete, so a client that lost the last answer does not start again.
    const done = await head(new URL(outcome.url).pathname).expect(200);
    expect(done.headers['upload-offset']).toBe(String(bytes.length));
    expect(done.headers['x-artifactstore-file']).toMatch(/^\/v1\/files\//);
  });

  it('resumes from the server offset when the connection breaks in the middle of a chunk', async () => {
    const id = await newPackage();
    const bytes = randomBytes(9 * MiB + 5);
    const proxy = await CuttingProxy.start(api.url, 6 * MiB + 1234);
    try {
      const outcome = await tusUpload({
        endpoint: `${proxy.url}/v1/packages/${id}/uploads`,
        bytes,
        chunkSize: 4 * MiB,
        metadata: { relative_path: 'cut.bin', sha256: sha256(bytes).toString('hex') },
        token: TOKENS.producer,
      });
      expect(outcome.finished).toBe(true);
      expect(proxy.cuts).toBe(1);
    } finally {
      await proxy.close();
    }
    expect((await download(id, 'cut.bin')).equals(bytes)).toBe(true);
  });

  it('answers tus discovery, and refuses a wrong version, a wrong offset and a bad content type', async () => {
    const id = await newPackage();
    const options = await api
      .http()
      .options(`/v1/packages/${id}/uploads`)
      .set('Authorization', auth())
      .expect(204);
    expect(options.headers).toMatchObject({
      'tus-resumable': '1.0.0',
      'tus-version': '1.0.0',
      'tus-extension': 'creation,termination,checksum,expiration',
      'tus-max-size': String(64 * MiB),
      'tus-checksum-algorithm': 'sha1,sha256',
    });
    const wrongVersion = await api
      .http()
      .post(`/v1/packages/${id}/uploads`)
      .set('Authorization', auth())
      .set('Tus-Resumable', '0.2.2')
      .set('Upload-Length', '10')
      .set('Upload-Metadata', `relative_path ${b64('a')}`);
    expectProblem(wrongVersion, 412, 'tus_version_unsupported');
    expect(wrongVersion.headers['tus-version']).toBe('1.0.0');

    const path = await createUpload(id, 10, `relative_path ${b64('a.txt')}`);
    expectProblem(await patch(path, 3, Buffer.from('abc')), 409, 'upload_offset_mismatch');
    await patch(path, 0, Buffer.from('abc')).expect(204).expect('Upload-Offset', '3');
    expectProblem(await patch(path, 0, Buffer.from('abc')), 409, 'upload_offset_mismatch');
    const wrongType = await api
      .http()
      .patch(path)
      .set('Authorization', auth())
      .set('Tus-Resumable', '1.0.0')
      .set('Content-Type', 'application/json')
      .set('Upload-Offset', '3')
      .send('{}');
    expectProblem(wrongType, 415, 'unsupported_media_type');
    const status = await head(path).expect(200);
    expect(status.headers).toMatchObject({
      'upload-offset': '3',
      'upload-length': '10',
      'cache-control': 'no-store',
    });
    await patch(path, 3, Buffer.from('defghij')).expect(204).expect('Upload-Offset', '10');
    expect((await download(id, 'a.txt')).toString()).toBe('abcdefghij');
  });

  it('discards the bytes of a PATCH whose Upload-Checksum does not match (460), and takes one that matches', async () => {
    const id = await newPackage();
    const path = await createUpload(id, 8, `relative_path ${b64('sum.txt')}`);
    const first = Buffer.from('1234');
    const wrong = createHash('sha256').update('not these').digest('base64');
    const refused = await patch(path, 0, first, { 'Upload-Checksum': `sha256 ${wrong}` });
    expectProblem(refused, 460, 'checksum_mismatch');
    expect((await head(path).expect(200)).headers['upload-offset']).toBe('0');
    const right = createHash('sha1').update(first).digest('base64');
    await patch(path, 0, first, { 'Upload-Checksum': `sha1 ${right}` })
      .expect(204)
      .expect('Upload-Offset', '4');
    expectProblem(await patch(path, 4, first, { 'Upload-Checksum': 'md5 AAAA' }), 400, 'invalid_input');
    await patch(path, 4, Buffer.from('5678')).expect(204);
    expect((await download(id, 'sum.txt')).toString()).toBe('12345678');
  });

  it('refuses what a PUT refuses: a reader, a file over the limit, a bad path, a taken path, wrong digests', async () => {
    const id = await newPackage();
    const asReader = await api
      .http()
      .post(`/v1/packages/${id}/uploads`)
      .set('Authorization', auth('reader'))
      .set('Tus-Resumable', '1.0.0')
      .set('Upload-Length', '1')
      .set('Upload-Metadata', `relative_path ${b64('r')}`);
    expectProblem(asReader, 403, 'forbidden');
    const tooLarge = await api
      .http()
      .post(`/v1/packages/${id}/uploads`)
      .set('Authorization', auth())
      .set('Tus-Resumable', '1.0.0')
      .set('Upload-Length', String(64 * MiB + 1))
      .set('Upload-Metadata', `relative_path ${b64('big')}`);
    expectProblem(tooLarge, 413, 'size_limit_exceeded');
    const badPath = await api
      .http()
      .post(`/v1/packages/${id}/uploads`)
      .set('Authorization', auth())
      .set('Tus-Resumable', '1.0.0')
      .set('Upload-Length', '1')
      .set('Upload-Metadata', `relative_path ${b64('../etc/passwd')}`);
    expectProblem(badPath, 400, 'invalid_relative_path');

    const path = await createUpload(id, 3, `relative_path ${b64('x')}`);
    expectHeadProblem(await head(path, 'reader'), 404);
    expectHeadProblem(
      await api.http().head(path).set('Authorization', auth('admin')).set('Tus-Resumable', '1.0.0'),
      404,
    );
    await patch(path, 0, Buffer.from('abc')).expect(204);
    const taken = await api
      .http()
      .post(`/v1/packages/${id}/uploads`)
      .set('Authorization', auth())
      .set('Tus-Resumable', '1.0.0')
      .set('Upload-Length', '1')
      .set('Upload-Metadata', `relative_path ${b64('x')}`);
    expectProblem(taken, 409, 'duplicate_relative_path');

    const bytes = Buffer.from('digest me');
    const wrongDigest = sha256(Buffer.from('something else')).toString('hex');
    const checked = await createUpload(
      id,
      bytes.length,
      `relative_path ${b64('d')},sha256 ${b64(wrongDigest)}`,
    );
    expectProblem(await patch(checked, 0, bytes), 422, 'digest_mismatch');
    expectHeadProblem(await head(checked), 404);
    const raw = await createUpload(
      id,
      bytes.length,
      `relative_path ${b64('e')},blake3 ${blake3(bytes).toString('base64')}`,
    );
    await patch(raw, 0, bytes).expect(204);
  });

  it('terminates an upload on DELETE; its staged bytes go', async () => {
    const id = await newPackage();
    const path = await createUpload(id, 100, `relative_path ${b64('gone')}`);
    await patch(path, 0, randomBytes(50)).expect(204);
    await api.http().delete(path).set('Authorization', auth()).set('Tus-Resumable', '1.0.0').expect(204);
    expectHeadProblem(await head(path), 404);
    if (testDatabase.config.storage === 'fs') {
      expect(await readdir(join(testDatabase.config.dataDir, 'blobs', 'uploads'))).not.toContain(
        path.split('/').at(-1),
      );
    }
  });

  it('removes an upload left unfinished past ARTIFACTSTORE_UPLOAD_EXPIRY_HOURS', async () => {
    const id = await newPackage();
    const late = await createUpload(id, 100, `relative_path ${b64('late')}`);
    const swept = await createUpload(id, 100, `relative_path ${b64('swept')}`);
    await patch(late, 0, randomBytes(10)).expect(204);
    const clock = api.app.get(Clock);
    const inADay = Date.now() + 24 * 3600_000 + 60_000;
    jest.spyOn(clock, 'now').mockReturnValue(inADay);
    expectHeadProblem(await head(late), 410);
    expectHeadProblem(await head(late), 404);
    expect(await api.app.get(ResumableUploads).sweepExpired()).toBeGreaterThanOrEqual(1);
    jest.restoreAllMocks();
    expectHeadProblem(await head(swept), 404);
  });
});
