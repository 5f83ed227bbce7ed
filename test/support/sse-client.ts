import { request, type IncomingMessage } from 'node:http';

/** One frame of a text/event-stream: its fields, or `comment` for a `:` line alone. */
export interface SseFrame {
  readonly id?: string;
  readonly event?: string;
  readonly data?: string;
  readonly comment?: string;
}

/** A minimal EventSource for tests: frames in arrival order, awaited one by one. */
export interface SseStream {
  readonly response: IncomingMessage;
  next(timeoutMs?: number): Promise<SseFrame>;
  close(): void;
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    request(url, { headers: { Accept: 'text/event-stream', ...headers } }, resolve)
      .on('error', reject)
      .end();
  });
  const frames: SseFrame[] = [];
  const waiters: ((frame: SseFrame) => void)[] = [];
  let buffer = '';
  response.setEncoding('utf8');
  response.on('data', (chunk: string) => {
    buffer += chunk;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const frame: Record<string, string> = {};
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) frame.comment = line.slice(1).trim();
        else {
          const at = line.indexOf(':');
          frame[line.slice(0, at)] = line.slice(at + 1).replace(/^ /, '');
        }
      }
      const waiter = waiters.shift();
      if (waiter) waiter(frame);
      else frames.push(frame);
    }
  });
  response.on('error', () => undefined);
  return {
    response,
    next: (timeoutMs = 10_000) => {
      const ready = frames.shift();
      if (ready) return Promise.resolve(ready);
      return new Promise<SseFrame>((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`no SSE frame within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.push((frame) => {
          clearTimeout(timer);
          resolve(frame);
        });
      });
    },
    close: () => {
      response.destroy();
    },
  };
}
