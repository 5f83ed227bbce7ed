import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

/** What came back: the status line and headers, and the body (or, for a hashed download, its digest). */
export interface Reply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
  /** SHA-256 hex and size of the body, when the call asked for `hash` instead of the bytes. */
  readonly sha256?: string;
  readonly size?: number;
  /** False when the connection broke after the headers (the server died mid-body). */
  readonly complete: boolean;
}

/** No answer at all: refused, reset before the status line, or nothing within the timeout. */
export class NoAnswer extends Error {
  override readonly name = 'NoAnswer';
}

export interface CallOptions {
  readonly headers?: Readonly<Record<string, string>>;
  /** A body as one buffer, or as chunks written one by one (respecting back-pressure). */
  readonly body?: Buffer | readonly Buffer[];
  /** Pause between chunks, to stretch an upload over time (so a kill can land in the middle of it). */
  readonly chunkDelayMs?: number;
  /** Hash the response body instead of keeping it. */
  readonly hash?: boolean;
  readonly timeoutMs?: number;
}

/**
 * A small HTTP client for the fault tests, on node:http without keep-alive (a killed server must not leave a
 * half-dead pooled connection to the next request). A request that gets no status line throws NoAnswer.
 */
export class StoreClient {
  constructor(readonly url: string) {}

  call(method: string, path: string, options: CallOptions = {}): Promise<Reply> {
    const chunks =
      options.body === undefined ? [] : Buffer.isBuffer(options.body) ? [options.body] : options.body;
    const length = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    const timeoutMs = options.timeoutMs ?? 60_000;
    return new Promise<Reply>((resolve, reject) => {
      let answered = false;
      const request = httpRequest(`${this.url}${path}`, {
        method,
        agent: false,
        headers: {
          ...(options.body === undefined ? {} : { 'Content-Length': String(length) }),
          ...options.headers,
        },
      });
      const timer = setTimeout(() => {
        request.destroy(new NoAnswer(`no answer within ${timeoutMs} ms to ${method} ${path}`));
      }, timeoutMs);
      request.on('error', (error) => {
        clearTimeout(timer);
        if (!answered)
          reject(error instanceof NoAnswer ? error : new NoAnswer(`${error.message}: ${method} ${path}`));
      });
      request.on('response', (response) => {
        answered = true;
        // An error answer's body is kept even when a download's was to be hashed: it is the problem to check.
        const status = response.statusCode ?? 0;
        const hash = options.hash && status >= 200 && status < 300 ? createHash('sha256') : undefined;
        const kept: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (hash) hash.update(chunk);
          else kept.push(chunk);
        });
        let finished = false;
        const finish = (complete: boolean): void => {
          if (finished) return;
          finished = true;
          clearTimeout(timer);
          resolve({
            status,
            headers: response.headers,
            body: Buffer.concat(kept),
            complete,
            ...(hash ? { sha256: hash.digest('hex'), size } : {}),
          });
        };
        response.on('end', () => {
          finish(true);
        });
        response.on('error', () => {
          finish(false);
        });
        response.on('aborted', () => {
          finish(false);
        });
      });
      void (async () => {
        try {
          for (const chunk of chunks) {
            if (request.destroyed) return;
            if (!request.write(chunk)) {
              await new Promise<void>((done) => {
                request.once('drain', done);
                request.once('close', done);
              });
            }
            if (options.chunkDelayMs) await sleep(options.chunkDelayMs);
          }
          request.end();
        } catch {
          request.destroy();
        }
      })();
    });
  }

  /** The body of a reply as JSON of the shape the caller expects (undefined when it is not JSON); unchecked. */
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the shape it reads
  static json<T = Record<string, unknown>>(reply: Reply): T | undefined {
    try {
      return JSON.parse(reply.body.toString('utf8')) as T;
    } catch {
      return undefined;
    }
  }
}
