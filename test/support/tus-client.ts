import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import * as tus from 'tus-js-client';

export interface TusUploadOptions {
  /** `<base>/v1/packages/<id>/uploads`. */
  readonly endpoint: string;
  readonly bytes: Buffer;
  readonly chunkSize: number;
  readonly metadata: Record<string, string>;
  readonly token?: string;
  /** Resume this upload instead of creating one. */
  readonly uploadUrl?: string;
  /** Abort (as a client that goes away) once the server has accepted at least this many bytes. */
  readonly stopAfter?: number;
  readonly retryDelays?: number[];
}

export interface TusOutcome {
  /** The upload's URL. */
  readonly url: string;
  /** Whether every byte was sent (false: stopped by `stopAfter`). */
  readonly finished: boolean;
  readonly bytesAccepted: number;
}

/** The real tus-js-client, as Uppy's tus plugin drives it, uploading a Buffer from Node. */
export function tusUpload(options: TusUploadOptions): Promise<TusOutcome> {
  return new Promise((resolve, reject) => {
    const upload: tus.Upload = new tus.Upload(options.bytes, {
      endpoint: options.endpoint,
      ...(options.uploadUrl === undefined ? {} : { uploadUrl: options.uploadUrl }),
      chunkSize: options.chunkSize,
      metadata: options.metadata,
      headers: options.token === undefined ? {} : { Authorization: `Bearer ${options.token}` },
      retryDelays: options.retryDelays ?? [0, 100, 300, 1000],
      storeFingerprintForResuming: false,
      onChunkComplete: (_size, bytesAccepted) => {
        if (options.stopAfter !== undefined && bytesAccepted >= options.stopAfter) {
          void upload.abort().then(() => {
            resolve({ url: upload.url ?? '', finished: false, bytesAccepted });
          }, reject);
        }
      },
      onSuccess: () => {
        resolve({ url: upload.url ?? '', finished: true, bytesAccepted: options.bytes.length });
      },
      onError: (error) => {
        reject(error);
      },
    });
    upload.start();
  });
}

/**
 * A TCP proxy in front of a server that cuts the connection (both sides) once `cutAfter` bytes went from the client
 * to the server, once: a network that breaks in the middle of a PATCH.
 */
export class CuttingProxy {
  private forwarded = 0;
  cuts = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    private readonly cutAfter: number,
  ) {}

  static async start(target: string, cutAfter: number): Promise<CuttingProxy> {
    const { hostname, port } = new URL(target);
    const holder: { proxy?: CuttingProxy } = {};
    const server = createServer((client) => {
      holder.proxy?.accept(client, hostname, Number(port));
    });
    const proxy = new CuttingProxy(server, cutAfter);
    holder.proxy = proxy;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private accept(client: Socket, host: string, port: number): void {
    const upstream = connect(port, host);
    this.sockets.add(client);
    this.sockets.add(upstream);
    const cut = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => {
      if (this.cuts === 0 && this.forwarded + chunk.length > this.cutAfter) {
        const part = chunk.subarray(0, this.cutAfter - this.forwarded);
        this.forwarded += part.length;
        this.cuts++;
        upstream.write(part, cut);
        return;
      }
      this.forwarded += chunk.length;
      if (!upstream.write(chunk)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    upstream.on('data', (chunk: Buffer) => {
      if (!client.write(chunk)) upstream.pause();
    });
    client.on('drain', () => upstream.resume());
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('error', cut);
    upstream.on('error', cut);
    client.on('close', () => {
      this.sockets.delete(client);
      upstream.destroy();
    });
    upstream.on('close', () => {
      this.sockets.delete(upstream);
      client.destroy();
    });
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => {
      this.server.close(() => {
        resolve();
      });
    });
  }
}
