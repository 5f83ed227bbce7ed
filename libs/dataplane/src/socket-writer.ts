import { close, write } from 'node:fs';
import { ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';

/**
 * Where a send's chunks go. `done` is called once the buffer may be reused, whether or not the write succeeded;
 * a failed write also fails the destination, so the sender learns of it as of any destination failure.
 */
export interface ChunkSink {
  write(bytes: Buffer, done: () => void): void;
  /** Lets go of what the sink holds; called once every write has been called back. */
  close(): Promise<void>;
}

/** Chunks written through the destination stream itself: the portable way. */
export class StreamSink implements ChunkSink {
  constructor(private readonly destination: Writable) {}

  write(bytes: Buffer, done: () => void): void {
    this.destination.write(bytes, () => {
      done();
    });
  }

  async close(): Promise<void> {}
}

interface SocketDupAddon {
  dupSocket(fd: number): number;
}

/** Where the addon is built: beside the sources (tests run from libs/), and from dist/libs/dataplane/src. */
const ADDON_PATHS = [
  '../native/build/Release/socket_dup.node',
  '../../../../libs/dataplane/native/build/Release/socket_dup.node',
];

function loadAddon(): SocketDupAddon | Error {
  const require = createRequire(import.meta.url);
  const errors: string[] = [];
  for (const path of ADDON_PATHS) {
    try {
      return require(fileURLToPath(new URL(path, import.meta.url))) as SocketDupAddon;
    } catch (error) {
      errors.push((error as Error).message.split('\n')[0] ?? String(error));
    }
  }
  return new Error(`libs/dataplane/native is not built (${errors.join('; ')}); run \`npm run install\``);
}

const addon = loadAddon();

/**
 * Whether downloads can write from the thread pool (the native addon loaded), and if not, why; the server logs
 * the reason at startup.
 */
export function socketWritesAvailable(): true | Error {
  return addon instanceof Error ? addon : true;
}

/** Bytes SocketSinks wrote to each socket beside Node's stream, which `socket.bytesWritten` does not count. */
const writtenBeside = new WeakMap<Socket, number>();

/** `socket.bytesWritten`, plus what downloads wrote to it from the thread pool. */
export function socketBytesWritten(socket: Socket): number {
  return socket.bytesWritten + (writtenBeside.get(socket) ?? 0);
}

/**
 * A sink that writes an HTTP response's body straight to its socket's descriptor with `fs.write`, on the thread
 * pool; undefined where that is not safe or not possible, and the caller writes through the stream. Only a GET
 * answered 200 or 206 with a Content-Length, on a plain TCP socket: a HEAD, a 204 or a 304 has no body, chunked
 * framing and TLS are Node's to write.
 *
 * Why: writing to a loopback or LAN socket costs the sending thread more than anything else a verified download
 * does (the kernel's TCP send path, several times BLAKE3's cost here). Written from the main thread, it runs in
 * turn with the hashing; written from the thread pool, both run at once (docs/benchmarks.md, session 9).
 */
export function socketSinkFor(destination: Writable): ChunkSink | undefined {
  if (addon instanceof Error || !(destination instanceof ServerResponse)) return undefined;
  const response = destination as ServerResponse;
  const { socket } = response;
  if (
    response.req.method !== 'GET' ||
    (response.statusCode !== 200 && response.statusCode !== 206) ||
    !response.hasHeader('content-length') ||
    response.hasHeader('transfer-encoding') ||
    !(socket instanceof Socket) ||
    'encrypted' in socket ||
    socket.destroyed ||
    typeof descriptorOf(socket) !== 'number'
  ) {
    return undefined;
  }
  return new SocketSink(response, socket, addon);
}

/** The descriptor under a TCP socket (Node keeps it on the libuv handle); undefined where there is none. */
function descriptorOf(socket: Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
  return typeof fd === 'number' && Number.isInteger(fd) && fd >= 0 ? fd : undefined;
}

/**
 * Writes chunks in order to a duplicate of the response socket's descriptor, so that Node closing its own (a reset,
 * an idle timeout, shutdown) can never point a write queued on the thread pool at a descriptor number some other
 * file has taken. The socket is non-blocking: what a write could not take now (a slow client) is written through
 * the socket stream, which waits for room, before the next chunk starts.
 *
 * The response's headers go out first, through the stream, at the first write. Every write refreshes the socket's
 * idle timeout, which otherwise sees no traffic, and is counted for `socketBytesWritten`.
 */
class SocketSink implements ChunkSink {
  private fd: number | undefined;
  /** The writes queued so far, in order; settles once the last one has been called back. */
  private queue: Promise<void> = Promise.resolve();
  private failed = false;

  constructor(
    private readonly response: ServerResponse,
    private readonly socket: Socket,
    private readonly native: SocketDupAddon,
  ) {}

  write(bytes: Buffer, done: () => void): void {
    this.queue = this.queue.then(async () => {
      try {
        if (!this.failed) await this.writeAll(bytes);
      } catch (error) {
        this.failed = true;
        this.socket.destroy(error as Error);
      } finally {
        done();
      }
    });
  }

  async close(): Promise<void> {
    await this.queue;
    const { fd } = this;
    this.fd = undefined;
    if (fd !== undefined)
      await new Promise<void>((resolve) => {
        close(fd, () => {
          resolve();
        });
      });
  }

  private async writeAll(bytes: Buffer): Promise<void> {
    const fd = this.fd ?? (await this.open());
    const written = await writeSome(fd, bytes);
    if (written > 0) {
      writtenBeside.set(this.socket, (writtenBeside.get(this.socket) ?? 0) + written);
      if (this.socket.timeout) this.socket.setTimeout(this.socket.timeout);
    }
    if (written < bytes.length) await streamWrite(this.socket, bytes.subarray(written));
  }

  /** Sends the headers, waits until the stream has handed everything before to the kernel, then duplicates. */
  private async open(): Promise<number> {
    if (!this.response.headersSent) this.response.flushHeaders();
    await streamWrite(this.socket, Buffer.alloc(0));
    const fd = descriptorOf(this.socket);
    if (fd === undefined || this.socket.destroyed) throw socketGone();
    this.fd = this.native.dupSocket(fd);
    return this.fd;
  }
}

/** One `write(2)` from the thread pool; 0 when the socket has no room now (EAGAIN). */
function writeSome(fd: number, bytes: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    write(fd, bytes, 0, bytes.length, null, (error, written) => {
      if (error?.code === 'EAGAIN') resolve(0);
      else if (error) reject(error);
      else resolve(written);
    });
  });
}

/** Writes through the socket stream; resolves once the bytes were handed to the kernel. */
function streamWrite(socket: Socket, bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.destroyed) {
      reject(socketGone());
      return;
    }
    socket.write(bytes, (error) => {
      if (error) reject(error);
      else resolve();
    });
  });
}

function socketGone(): Error {
  return Object.assign(new Error('the socket closed before the response was sent'), {
    code: 'ERR_STREAM_PREMATURE_CLOSE',
  });
}
