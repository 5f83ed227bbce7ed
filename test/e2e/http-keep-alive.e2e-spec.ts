import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { HEADERS_TIMEOUT_MS, IDLE_TIMEOUT_MS } from '@artifactstore/api';
import { createScratchSqlite } from '../support/scratch-database.js';
import { startApi, type ApiHarness } from '../support/api-harness.js';
import type { TestDatabase } from '../support/test-databases.js';

/** Sends `GET /healthz` on the connection; resolves with the answer's head lines once the whole answer is in. */
function getHealthz(socket: Socket): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const onClose = (): void => {
      reject(new Error('the connection closed before the answer'));
    };
    const onData = (chunk: Buffer): void => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = received.subarray(0, end).toString('latin1').split('\r\n');
      const length = Number(/^content-length: *(\d+)$/im.exec(head.join('\n'))?.[1] ?? '0');
      if (received.length < end + 4 + length) return;
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve(head);
    };
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.write('GET /healthz HTTP/1.1\r\nHost: artifactstore\r\n\r\n');
  });
}

async function connectTo(api: ApiHarness): Promise<Socket> {
  const { port } = new URL(api.url);
  const socket = connect(Number(port), '127.0.0.1');
  await once(socket, 'connect');
  return socket;
}

describe.each<{ setting: string; overrides: Record<string, string>; keepAliveMs: number }>([
  { setting: 'by default', overrides: {}, keepAliveMs: 65_000 },
  {
    setting: 'at 200 s',
    overrides: { ARTIFACTSTORE_KEEP_ALIVE_TIMEOUT_SECONDS: '200' },
    keepAliveMs: 200_000,
  },
])('the keep-alive timeout $setting', ({ overrides, keepAliveMs }) => {
  let testDatabase: TestDatabase;
  let api: ApiHarness;

  beforeAll(async () => {
    testDatabase = await createScratchSqlite(overrides);
    api = await startApi(testDatabase);
  });

  afterAll(async () => {
    await api.close();
    await testDatabase.dispose();
  });

  it('is advertised, and a new connection may stay idle as long before its headers are due', async () => {
    const socket = await connectTo(api);
    try {
      expect(await getHealthz(socket)).toContain(`Keep-Alive: timeout=${keepAliveMs / 1000}`);
    } finally {
      socket.destroy();
    }
    expect(api.server.keepAliveTimeout).toBe(keepAliveMs);
    expect(api.server.headersTimeout).toBe(keepAliveMs + HEADERS_TIMEOUT_MS);
    expect(api.server.timeout).toBe(Math.max(IDLE_TIMEOUT_MS, keepAliveMs + HEADERS_TIMEOUT_MS));
  });
});

describe('the keep-alive timeout at 1 s (ARTIFACTSTORE_KEEP_ALIVE_TIMEOUT_SECONDS=1)', () => {
  let testDatabase: TestDatabase;
  let api: ApiHarness;

  beforeAll(async () => {
    testDatabase = await createScratchSqlite({ ARTIFACTSTORE_KEEP_ALIVE_TIMEOUT_SECONDS: '1' });
    api = await startApi(testDatabase);
  });

  afterAll(async () => {
    await api.close();
    await testDatabase.dispose();
  });

  it('keeps a connection for the next request, and closes it once idle a little longer', async () => {
    const socket = await connectTo(api);
    try {
      expect(await getHealthz(socket)).toContain('Keep-Alive: timeout=1');
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(await getHealthz(socket)).toContain('HTTP/1.1 200 OK');
      const idleSince = Date.now();
      await once(socket, 'close');
      const idleMs = Date.now() - idleSince;
      // Node closes a second after the advertised timeout, so that a client heeding it closes first.
      expect(idleMs).toBeGreaterThanOrEqual(1_000);
      expect(idleMs).toBeLessThan(3_000);
    } finally {
      socket.destroy();
    }
  });
});
