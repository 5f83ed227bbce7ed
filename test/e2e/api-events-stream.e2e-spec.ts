import { connect } from 'node:net';
import { startApi, type ApiHarness } from '../support/api-harness.js';
import { createPackage, expectProblem } from '../support/http-helpers.js';
import { openSse, type SseFrame, type SseStream } from '../support/sse-client.js';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';

/**
 * Sends `head` (a request without a body) on a fresh connection that asks to be closed, and resolves with all the
 * server sent once it ends the connection; rejects with what it got if the connection is still open after
 * `timeoutMs`.
 */
function exchange(url: string, head: string, timeoutMs = 5000): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the connection was still open after ${timeoutMs} ms; received: ${received}`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.once('error', reject);
    socket.once('end', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(received);
    });
    socket.write(`${head}Host: ${hostname}\r\nConnection: close\r\n\r\n`);
  });
}

describe.each(dialectsUnderTest())('HTTP API: the event stream (SSE) on $dialect', (dialectUnderTest) => {
  let testDatabase: TestDatabase;
  let api: ApiHarness;
  const open: SseStream[] = [];

  beforeAll(async () => {
    testDatabase = await dialectUnderTest.create({
      ARTIFACTSTORE_SSE_HEARTBEAT_SECONDS: '1',
      ARTIFACTSTORE_MAX_WAITING_CLIENTS: '3',
    });
    api = await startApi(testDatabase);
  });

  afterEach(() => {
    for (const stream of open.splice(0)) stream.close();
  });

  afterAll(async () => {
    await api.close();
    await testDatabase.dispose();
  });

  const head = async (): Promise<number> =>
    ((await api.http().get('/readyz').expect(200)).body as { head_sequence: number }).head_sequence;
  const stream = async (query = '', headers: Record<string, string> = {}): Promise<SseStream> => {
    const opened = await openSse(`${api.url}/v1/events/stream${query}`, headers);
    open.push(opened);
    return opened;
  };
  /** The next frame that is an event (heartbeats skipped). */
  const nextEvent = async (sse: SseStream): Promise<SseFrame> => {
    for (;;) {
      const frame = await sse.next();
      if (frame.comment === undefined) return frame;
    }
  };

  it('streams the events after `since`, then each one as it commits', async () => {
    const since = await head();
    const sse = await stream(`?since=${since}`);
    expect(sse.response.statusCode).toBe(200);
    expect(sse.response.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    const pkg = await createPackage(api, { name: 'streamed' });
    const frame = await nextEvent(sse);
    expect(frame.id).toBe(String(since + 1));
    expect(frame.event).toBe('v1.package.created');
    expect(JSON.parse(frame.data ?? '')).toMatchObject({
      sequence: since + 1,
      event_type: 'v1.package.created',
      subject_id: pkg.id,
      payload: { name: 'streamed' },
    });
  });

  it('starts with the backlog, and Last-Event-ID wins over since', async () => {
    const first = await createPackage(api);
    const second = await createPackage(api);
    const now = await head();
    const fromStart = await stream('?since=0');
    const seen: string[] = [];
    while (seen.length < now) seen.push((await nextEvent(fromStart)).id ?? '');
    expect(seen).toEqual(Array.from({ length: now }, (_, i) => String(i + 1)));
    const resumed = await stream('?since=not-a-number', { 'Last-Event-ID': String(now - 1) });
    expect(resumed.response.statusCode).toBe(200);
    const frame = await nextEvent(resumed);
    expect(frame.id).toBe(String(now));
    expect(JSON.parse(frame.data ?? '')).toMatchObject({ subject_id: second.id });
    expect(first.id).not.toBe(second.id);
  });

  it('sends a comment heartbeat while nothing happens', async () => {
    const sse = await stream(`?since=${await head()}`);
    expect(await sse.next(5000)).toEqual({ comment: 'heartbeat' });
  });

  it('answers HEAD with the headers of a stream and ends at once, holding no place', async () => {
    // Four HEADs against a bound of three: a HEAD that held a place would make the fourth a 503.
    for (let i = 0; i < 4; i++) {
      const answer = await exchange(api.url, `HEAD /v1/events/stream?since=${await head()} HTTP/1.1\r\n`);
      const [status = '', ...headerLines] = answer.split('\r\n\r\n')[0]?.split('\r\n') ?? [];
      expect(status).toBe('HTTP/1.1 200 OK');
      expect(headerLines).toContain('Content-Type: text/event-stream; charset=utf-8');
      expect(headerLines).toContain('Cache-Control: no-cache, no-transform');
      // Nothing after the headers: no body, and not even a heartbeat.
      expect(answer.endsWith('\r\n\r\n')).toBe(true);
      expect(answer.split('\r\n\r\n')).toHaveLength(2);
    }
    const refused = await exchange(api.url, 'HEAD /v1/events/stream?since=-1 HTTP/1.1\r\n');
    expect(refused).toMatch(/^HTTP\/1\.1 400 /);
    expect(refused).toMatch(/\r\nContent-Type: application\/problem\+json\r\n/);
    expect(refused.endsWith('\r\n\r\n')).toBe(true);
  });

  it('refuses a bad since or Last-Event-ID (400), and streams past ARTIFACTSTORE_MAX_WAITING_CLIENTS (503)', async () => {
    expectProblem(await api.http().get('/v1/events/stream?since=-1'), 400, 'invalid_input');
    expectProblem(
      await api.http().get('/v1/events/stream').set('Last-Event-ID', 'abc'),
      400,
      'invalid_input',
    );
    for (let i = 0; i < 3; i++) await stream(`?since=${await head()}`);
    const refused = await api.http().get('/v1/events/stream');
    expectProblem(refused, 503, 'service_unavailable');
    expect(refused.headers['retry-after']).toEqual(expect.stringMatching(/^\d+$/));
    expect(await exchange(api.url, 'HEAD /v1/events/stream HTTP/1.1\r\n')).toMatch(/^HTTP\/1\.1 503 /);
    // A stream that closes gives its place back.
    open.pop()?.close();
    let again: SseStream | undefined;
    for (let attempt = 0; attempt < 50 && !again; attempt++) {
      const candidate = await openSse(`${api.url}/v1/events/stream?since=${await head()}`);
      if (candidate.response.statusCode === 200) again = candidate;
      else {
        candidate.close();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    expect(again?.response.statusCode).toBe(200);
    if (again) open.push(again);
  });
});
