import { randomBytes } from 'node:crypto';
import { openSync, closeSync, readdirSync } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import {
  Agent,
  createServer,
  request,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { FsBlobStore } from './fs-blob-store.js';
import { socketBytesWritten, socketSinkFor, socketWritesAvailable } from './socket-writer.js';

type Handler = (request: IncomingMessage, response: ServerResponse) => Promise<void>;

interface Served {
  readonly status: number;
  readonly body: Buffer;
  /** Whether the body ended cleanly (false: the connection was cut first). */
  readonly complete: boolean;
}

/** What the server side saw of one response: the bytes it wrote beside the stream, and how the send ended. */
interface SentFacts {
  beside: number;
  settled: boolean;
  error?: unknown;
}

const MiB = 1 << 20;

describe('SocketSink: download bodies written to the socket from the thread pool', () => {
  let dir: string;
  let server: Server;
  let port: number;
  let handler: Handler;
  const sent: SentFacts[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'artifactstore-socket-writer-'));
    server = createServer((request, response) => {
      const facts: SentFacts = { beside: 0, settled: false };
      sent.push(facts);
      const socket = response.socket as Socket;
      const before = socketBytesWritten(socket) - socket.bytesWritten;
      handler(request, response)
        .then(
          () => (facts.beside = socketBytesWritten(socket) - socket.bytesWritten - before),
          (error: unknown) => {
            facts.error = error;
            if (!response.headersSent) response.writeHead(500).end();
          },
        )
        .finally(() => (facts.settled = true));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    sent.length = 0;
  });

  async function storeWith(
    bytes: Buffer,
    socketWrites = true,
  ): Promise<{ store: FsBlobStore; key: string; blobPath: string }> {
    const root = await mkdtemp(join(dir, 'store-'));
    const store = new FsBlobStore(root, { socketWrites });
    await store.init();
    const { key } = await store.ingest([bytes]);
    return { store, key, blobPath: join(root, key.slice(0, 2), key.slice(2, 4), key) };
  }

  /** Serves `key` whole (or a range) with the headers the API sets. */
  function serve(
    store: FsBlobStore,
    key: string,
    size: number,
    range?: { start: number; end: number },
  ): void {
    handler = async (_request, response) => {
      response.statusCode = range ? 206 : 200;
      response.setHeader('Content-Length', String(range ? range.end - range.start + 1 : size));
      await store.send(key, response, range ?? {});
    };
  }

  /** A GET answered in full or cut; resolves once the server side has settled too. */
  function get(path = '/', options: { agent?: false | Agent } = {}): Promise<Served> {
    return new Promise((resolve, reject) => {
      const outgoing = request(
        { host: '127.0.0.1', port, path, agent: options.agent ?? false },
        (response) => {
          const parts: Buffer[] = [];
          response.on('data', (part: Buffer) => parts.push(part));
          const settle = (complete: boolean) => {
            const served = { status: response.statusCode ?? 0, body: Buffer.concat(parts), complete };
            until(() => sent.length > 0 && sent.every((facts) => facts.settled)).then(() => {
              resolve(served);
            }, reject);
          };
          response.on('end', () => {
            settle(true);
          });
          response.on('error', () => {
            settle(false);
          });
          response.on('aborted', () => {
            settle(false);
          });
        },
      );
      outgoing.on('error', reject);
      outgoing.end();
    });
  }

  it('loads the native addon (npm ci builds it)', () => {
    expect(socketWritesAvailable()).toBe(true);
  });

  it('sends a whole blob beside the stream, every byte counted, and the stream path gives the same bytes', async () => {
    const bytes = randomBytes(24 * MiB + 12_345);
    const fast = await storeWith(bytes);
    serve(fast.store, fast.key, bytes.length);
    const viaSocket = await get();
    expect(viaSocket.status).toBe(200);
    expect(viaSocket.complete).toBe(true);
    expect(viaSocket.body.equals(bytes)).toBe(true);
    expect(sent[0]?.error).toBeUndefined();
    // Most of the body goes from the thread pool; what a full socket refused went through the stream.
    expect(sent[0]?.beside).toBeGreaterThan(0);
    expect(sent[0]?.beside).toBeLessThanOrEqual(bytes.length);

    const plain = await storeWith(bytes, false);
    serve(plain.store, plain.key, bytes.length);
    const viaStream = await get();
    expect(viaStream.body.equals(bytes)).toBe(true);
    expect(sent[1]?.beside).toBe(0);
  });

  it('sends large ranges beside the stream too', async () => {
    const bytes = randomBytes(8 * MiB);
    const { store, key } = await storeWith(bytes);
    const range = { start: 4097, end: 7 * MiB + 3 };
    serve(store, key, bytes.length, range);
    const answer = await get();
    expect(answer.status).toBe(206);
    expect(answer.body.equals(bytes.subarray(range.start, range.end + 1))).toBe(true);
    expect(sent[0]?.beside).toBeGreaterThan(0);
  });

  it('keeps a keep-alive connection in step: the next response starts right after the body', async () => {
    const bytes = randomBytes(6 * MiB + 1);
    const { store, key } = await storeWith(bytes);
    serve(store, key, bytes.length);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await get('/', { agent });
      const second = await get('/', { agent });
      expect(first.body.equals(bytes)).toBe(true);
      expect(second.body.equals(bytes)).toBe(true);
      expect(sent).toHaveLength(2);
      expect(sent.every((facts) => facts.beside > 0)).toBe(true);
    } finally {
      agent.destroy();
    }
  });

  it('finishes through the stream when a slow client leaves the socket no room', async () => {
    const bytes = randomBytes(16 * MiB);
    const { store, key } = await storeWith(bytes);
    serve(store, key, bytes.length);
    const received = await new Promise<Buffer>((resolve, reject) => {
      const outgoing = request({ host: '127.0.0.1', port, agent: false }, (response) => {
        const parts: Buffer[] = [];
        response.on('data', (part: Buffer) => {
          parts.push(part);
          // Stop reading for a while now and then, so that the server's socket fills up.
          if (parts.length % 64 === 0) {
            response.pause();
            setTimeout(() => response.resume(), 20);
          }
        });
        response.on('end', () => {
          resolve(Buffer.concat(parts));
        });
        response.on('error', reject);
      });
      outgoing.on('error', reject);
      outgoing.end();
    });
    expect(received.equals(bytes)).toBe(true);
    expect(sent[0]?.error).toBeUndefined();
  });

  it('cuts the connection before the last chunk when the blob is corrupt, and closes its descriptor', async () => {
    const bytes = randomBytes(12 * MiB);
    const { store, key, blobPath } = await storeWith(bytes);
    const handle = await open(blobPath, 'r+');
    await handle.write(Buffer.from([bytes[bytes.length - 1]! ^ 0xff]), 0, 1, bytes.length - 1);
    await handle.close();
    serve(store, key, bytes.length);
    const descriptors = openDescriptors();
    const answer = await get();
    await until(() => sent[0]?.error !== undefined);
    expect(answer.complete).toBe(false);
    expect(answer.body.length).toBeLessThan(bytes.length);
    expect(answer.body.equals(bytes.subarray(0, answer.body.length))).toBe(true);
    expect((sent[0]?.error as Error).name).toBe('IntegrityError');
    await until(() => openDescriptors() <= descriptors);
  });

  it('stops and closes its descriptor when the client goes away mid-body', async () => {
    const bytes = randomBytes(64 * MiB);
    const { store, key } = await storeWith(bytes);
    serve(store, key, bytes.length);
    const descriptors = openDescriptors();
    await new Promise<void>((resolve, reject) => {
      const outgoing = request({ host: '127.0.0.1', port, agent: false }, (response) => {
        response.once('data', () => {
          outgoing.destroy();
          resolve();
        });
      });
      outgoing.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code === 'ECONNRESET') resolve();
        else reject(error);
      });
      outgoing.end();
    });
    await until(() => sent[0]?.error !== undefined);
    expect((sent[0]?.error as NodeJS.ErrnoException).code).toBe('ERR_STREAM_PREMATURE_CLOSE');
    await until(() => openDescriptors() <= descriptors);
  });

  it('is not used where Node must write the body: HEAD, no Content-Length, 204, or a non-HTTP destination', async () => {
    const used: Record<string, boolean> = {};
    handler = async (request, response) => {
      if (request.url === '/no-content') response.statusCode = 204;
      if (request.url !== '/no-length')
        response.setHeader('Content-Length', request.url === '/no-content' ? 0 : 1);
      used[`${request.method} ${request.url}`] = socketSinkFor(response) !== undefined;
      response.end(request.url === '/no-content' ? undefined : 'x');
      await Promise.resolve();
    };
    await get('/ok');
    await get('/no-length');
    await get('/no-content');
    await new Promise<void>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path: '/ok', method: 'HEAD', agent: false }, (response) => {
        response.resume();
        response.on('end', resolve);
      })
        .on('error', reject)
        .end();
    });
    expect(used).toEqual({
      'GET /ok': true,
      'GET /no-length': false,
      'GET /no-content': false,
      'HEAD /ok': false,
    });
    expect(socketSinkFor(new PassThrough())).toBeUndefined();
  });

  describe('the addon', () => {
    const addon = createRequire(import.meta.url)(
      fileURLToPath(new URL('../native/build/Release/socket_dup.node', import.meta.url)),
    ) as { dupSocket(fd: unknown): number };

    it('refuses what is not a socket, with a code', () => {
      const fd = openSync(fileURLToPath(import.meta.url), 'r');
      try {
        expect(() => addon.dupSocket(fd)).toThrow(expect.objectContaining({ code: 'ENOTSOCK' }) as Error);
      } finally {
        closeSync(fd);
      }
      expect(() => addon.dupSocket(1_000_000)).toThrow(expect.objectContaining({ code: 'EBADF' }) as Error);
      expect(() => addon.dupSocket('3')).toThrow('dupSocket expects a file descriptor');
      expect(() => addon.dupSocket(-1)).toThrow('dupSocket expects a file descriptor');
    });
  });
});

function openDescriptors(): number {
  return readdirSync('/proc/self/fd').length;
}

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
