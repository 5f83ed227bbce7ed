import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Readable } from 'node:stream';
import type { Upload } from './artifact-client.js';
import { CliError } from './cli.errors.js';
import { HttpArtifactClient } from './http-artifact-client.js';

/** A request as the stand-in server saw it: on which connection, the how-manieth there, and what it carried. */
interface SeenRequest {
  readonly connection: number;
  readonly nth: number;
  readonly method: string;
  readonly url: string;
  /** Only when the request carried one. */
  readonly idempotencyKey?: string;
}

/**
 * What the stand-in server does with a request: answer it (JSON naming the request, and the body's length),
 * close the connection without a byte of an answer (as a server closing an idle connection just as the request
 * arrives), or close it after the first line of an answer.
 */
type Treatment = 'answer' | 'close' | 'close-mid-answer';

interface StandIn {
  readonly url: string;
  readonly seen: SeenRequest[];
  /** When each connection closed (ms since its last answer), by connection number. */
  readonly idleBeforeClose: Map<number, number>;
  close(): Promise<void>;
}

async function startStandIn(treat: (request: SeenRequest) => Treatment): Promise<StandIn> {
  const seen: SeenRequest[] = [];
  const idleBeforeClose = new Map<number, number>();
  const connections = new WeakMap<
    Socket,
    { readonly number: number; requests: number; answeredAt: number }
  >();
  let count = 0;
  const server = http.createServer((request, response) => {
    const connection = connections.get(request.socket);
    if (connection === undefined) throw new Error('a request on an unknown connection');
    connection.requests += 1;
    const facts = {
      connection: connection.number,
      nth: connection.requests,
      method: request.method ?? '',
      url: request.url ?? '',
      idempotencyKey: request.headers['idempotency-key'] as string | undefined,
    };
    seen.push(facts);
    switch (treat(facts)) {
      case 'close':
        request.socket.destroy();
        return;
      case 'close-mid-answer':
        request.socket.end('HTTP/1.1 200 OK\r\n');
        return;
      case 'answer': {
        let length = 0;
        request.on('data', (chunk: Buffer) => (length += chunk.length));
        request.on('end', () => {
          response.setHeader('Content-Type', 'application/json');
          response.end(JSON.stringify({ url: facts.url, length }));
          connection.answeredAt = Date.now();
        });
      }
    }
  });
  // No keep-alive timeout: the server keeps an idle connection for ever, and says nothing of it to the client.
  server.keepAliveTimeout = 0;
  server.on('connection', (socket: Socket) => {
    count += 1;
    const connection = { number: count, requests: 0, answeredAt: 0 };
    connections.set(socket, connection);
    socket.on('close', () => idleBeforeClose.set(connection.number, Date.now() - connection.answeredAt));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    idleBeforeClose,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

function uploadOf(bytes: Buffer, opened: { count: number }): Upload {
  return {
    relativePath: 'bin/tool',
    mediaType: 'application/octet-stream',
    size: bytes.length,
    sha256: '00'.repeat(32),
    blake3: '00'.repeat(32),
    open: () => {
      opened.count += 1;
      return Readable.from([bytes.subarray(0, bytes.length / 2), bytes.subarray(bytes.length / 2)]);
    },
  };
}

describe('HttpArtifactClient on a kept-alive connection', () => {
  let standIn: StandIn | undefined;
  let client: HttpArtifactClient | undefined;

  afterEach(async () => {
    await client?.close();
    await standIn?.close();
    client = undefined;
    standIn = undefined;
  });

  it('sends a request again on a new connection when the server closed the kept one without answering', async () => {
    standIn = await startStandIn((request) => (request.nth === 2 ? 'close' : 'answer'));
    client = new HttpArtifactClient({ url: standIn.url, maxSockets: 1 });

    await client.getPackage('first');
    await expect(client.getPackage('second')).resolves.toEqual({ url: '/v1/packages/second', length: 0 });
    await expect(
      client.createPackage({ name: 'p', producer: 'ci', subject: 's', retention_class: 'ci', metadata: {} }),
    ).resolves.toEqual(expect.objectContaining({ url: '/v1/packages' }));

    expect(standIn.seen).toEqual([
      { connection: 1, nth: 1, method: 'GET', url: '/v1/packages/first' },
      { connection: 1, nth: 2, method: 'GET', url: '/v1/packages/second' },
      { connection: 2, nth: 1, method: 'GET', url: '/v1/packages/second' },
      { connection: 2, nth: 2, method: 'POST', url: '/v1/packages' },
      { connection: 3, nth: 1, method: 'POST', url: '/v1/packages' },
    ]);
  });

  it('sends a retried create with the same Idempotency-Key, so the server answers the first package', async () => {
    standIn = await startStandIn((request) => (request.nth === 2 ? 'close' : 'answer'));
    client = new HttpArtifactClient({ url: standIn.url, maxSockets: 1 });
    const input = { name: 'p', producer: 'ci', subject: 's', retention_class: 'ci', metadata: {} };

    await client.getPackage('first');
    await client.createPackage(input, 'push-key-1');

    expect(standIn.seen.filter((request) => request.method === 'POST')).toEqual([
      { connection: 1, nth: 2, method: 'POST', url: '/v1/packages', idempotencyKey: 'push-key-1' },
      { connection: 2, nth: 1, method: 'POST', url: '/v1/packages', idempotencyKey: 'push-key-1' },
    ]);
  });

  it("reopens an upload's file to send it again", async () => {
    standIn = await startStandIn((request) => (request.nth === 2 ? 'close' : 'answer'));
    client = new HttpArtifactClient({ url: standIn.url, maxSockets: 1 });
    const bytes = randomBytes(4 << 20);
    const opened = { count: 0 };

    await client.getPackage('p1');
    await expect(client.uploadFile('p1', uploadOf(bytes, opened))).resolves.toEqual({
      url: '/v1/packages/p1/files/bin/tool',
      length: bytes.length,
    });

    expect(opened.count).toBe(2);
    expect(standIn.seen.map(({ connection, method }) => [connection, method])).toEqual([
      [1, 'GET'],
      [1, 'PUT'],
      [2, 'PUT'],
    ]);
  });

  it('does not send again once the answer has begun, and says so in one line', async () => {
    standIn = await startStandIn((request) => (request.nth === 2 ? 'close-mid-answer' : 'answer'));
    client = new HttpArtifactClient({ url: standIn.url, maxSockets: 1 });

    await client.getPackage('first');
    const failure = await client.getPackage('second').catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(CliError);
    expect(failure).toMatchObject({ code: 'server_unreachable' });
    expect((failure as CliError).message).toMatch(/^cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNRESET$/);
    expect(standIn.seen).toHaveLength(2);
  });

  it('does not send again when a new connection fails', async () => {
    standIn = await startStandIn(() => 'close');
    client = new HttpArtifactClient({ url: standIn.url, maxSockets: 1 });

    await expect(client.finalizePackage('p1')).rejects.toMatchObject({ code: 'server_unreachable' });
    expect(standIn.seen).toHaveLength(1);
  });

  it('closes a connection idle for 4 s itself, whatever the server would keep', async () => {
    standIn = await startStandIn(() => 'answer');
    client = new HttpArtifactClient({ url: standIn.url, maxSockets: 1 });

    await client.getPackage('first');
    const deadline = Date.now() + 8_000;
    while (!standIn.idleBeforeClose.has(1) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    const idle = standIn.idleBeforeClose.get(1);
    expect(idle).toBeGreaterThanOrEqual(3_900);
    expect(idle).toBeLessThan(5_000);
  }, 15_000);
});
