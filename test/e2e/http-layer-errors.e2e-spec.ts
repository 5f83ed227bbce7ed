import { connect } from 'node:net';
import { startApi, type ApiHarness } from '../support/api-harness.js';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';

/** Sends `raw` on a new connection and returns everything the server writes until it closes. */
function exchange(url: string, raw: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(raw));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

/** The status, headers and problem body of a raw HTTP answer. */
function parse(answer: string): {
  status: number;
  headers: Map<string, string>;
  body: Record<string, unknown>;
} {
  const [head = '', body = ''] = answer.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers = new Map(
    lines.map((line) => [
      line.slice(0, line.indexOf(':')).toLowerCase(),
      line.slice(line.indexOf(':') + 1).trim(),
    ]),
  );
  return {
    status: Number(statusLine.split(' ')[1]),
    headers,
    body: JSON.parse(body) as Record<string, unknown>,
  };
}

describe.each(dialectsUnderTest())(
  'requests Node refuses before routing, on $dialect',
  (dialectUnderTest) => {
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

    it.each([
      ['a NUL in the path', 'GET /v1/pack\0ages HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'invalid_input'],
      [
        'a malformed header name',
        'GET /v1/packages HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n',
        400,
        'invalid_input',
      ],
      [
        'Content-Length beside Transfer-Encoding',
        'PUT /v1/packages HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
        400,
        'invalid_input',
      ],
      [
        'a head over 16 KiB',
        `GET /v1/packages HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`,
        431,
        'headers_too_large',
      ],
      [
        'an Expect other than 100-continue',
        'PUT /v1/packages HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nContent-Length: 0\r\n\r\n',
        417,
        'expectation_failed',
      ],
      [
        'an Expect listing more than 100-continue',
        'PUT /v1/packages HTTP/1.1\r\nHost: x\r\nExpect: 100-continue, teapot\r\nContent-Length: 0\r\n\r\n',
        417,
        'expectation_failed',
      ],
    ])('answers %s with a problem and a request id', async (_what, raw, status, code) => {
      const answer = parse(await exchange(api.url, raw));
      expect(answer.status).toBe(status);
      expect(answer.headers.get('content-type')).toBe('application/problem+json');
      const requestId = answer.headers.get('x-request-id');
      expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(answer.body).toMatchObject({
        type: `urn:artifactstore:problem:${code}`,
        status,
        code,
        request_id: requestId,
      });
    });

    it('closes the connection instead of splicing an answer into a response in flight', async () => {
      const ready = await api.http().get('/readyz').expect(200);
      const head = (ready.body as { head_sequence: number }).head_sequence;
      // An event stream has sent its head and stays open when a malformed request follows it on the connection.
      const { hostname, port } = new URL(api.url);
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), hostname, () => {
          socket.write(`GET /v1/events/stream?since=${head} HTTP/1.1\r\nHost: x\r\n\r\n`);
        });
        const chunks: Buffer[] = [];
        socket.on('data', (chunk: Buffer) => {
          if (chunks.length === 0) socket.write('GET /bad\0path HTTP/1.1\r\nHost: x\r\n\r\n');
          chunks.push(chunk);
        });
        socket.on('error', reject);
        socket.on('close', () => {
          resolve(Buffer.concat(chunks).toString('utf8'));
        });
      });
      expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(answer).not.toContain('HTTP/1.1 400');
    });

    it('still meets Expect: 100-continue, then reads the body', async () => {
      const created = await api
        .http()
        .post('/v1/packages')
        .send({ name: 'app', producer: 'ci', subject: 's', retention_class: 'standard' })
        .expect(201);
      const id = (created.body as { id: string }).id;
      const answer = await exchange(
        api.url,
        `PUT /v1/packages/${id}/files/a.txt HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello`,
      );
      expect(answer.startsWith('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n')).toBe(true);
    });
  },
);
