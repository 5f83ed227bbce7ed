import { connect } from 'node:net';

/** One header as it goes on the wire: the bytes are sent unaltered, whatever they are. */
export type RawHeader = readonly [name: string, value: string | Buffer];

export interface RawRequest {
  readonly method: string;
  /** The request target exactly as sent (no percent-encoding is added or checked). */
  readonly target: string | Buffer;
  readonly headers?: readonly RawHeader[];
  readonly body?: Buffer;
  /** Content-Length from the body unless false (then the headers say what they say). */
  readonly contentLength?: boolean;
}

export interface RawResponse {
  readonly status: number;
  /** Lowercased names; a repeated header's values joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  /** The status line and headers as received, for failure messages. */
  readonly head: string;
}

/**
 * One HTTP/1.1 request over its own TCP connection, written byte for byte as given (node:http refuses, or
 * encodes, the bytes a fuzzer wants to send: control characters in a path, raw UTF-8 in a header, a bad
 * Content-Length), with `Connection: close`; resolves with the parsed answer once the server closes the
 * connection (which it must: the request says `Connection: close`).
 */
export function rawHttp(port: number, request: RawRequest, timeoutMs = 30_000): Promise<RawResponse> {
  const body = request.body ?? Buffer.alloc(0);
  const lines: Buffer[] = [
    Buffer.concat([
      Buffer.from(`${request.method} `),
      Buffer.from(request.target),
      Buffer.from(' HTTP/1.1\r\n'),
    ]),
    Buffer.from(`Host: 127.0.0.1:${port}\r\nConnection: close\r\n`),
  ];
  for (const [name, value] of request.headers ?? []) {
    lines.push(Buffer.concat([Buffer.from(`${name}: `), Buffer.from(value), Buffer.from('\r\n')]));
  }
  if (request.contentLength !== false) lines.push(Buffer.from(`Content-Length: ${body.length}\r\n`));
  lines.push(Buffer.from('\r\n'), body);
  const bytes = Buffer.concat(lines);
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer within ${timeoutMs} ms to ${describeRequest(request)}`));
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    // The server may answer and close before it has read the whole request (a refused upload): that is an
    // answer, not a failure, so a write error after data has arrived is ignored.
    socket.on('error', (error) => {
      if (chunks.length > 0) return;
      clearTimeout(timer);
      reject(new Error(`${error.message} on ${describeRequest(request)}`));
    });
    socket.on('close', () => {
      clearTimeout(timer);
      try {
        resolve(parseResponse(Buffer.concat(chunks)));
      } catch (error) {
        reject(new Error(`${(error as Error).message} on ${describeRequest(request)}`));
      }
    });
    // write, not end: Node's HTTP server drops a request whose client half-closes before the answer is ready.
    socket.write(bytes);
  });
}

/** The request line, printable, for messages. */
export function describeRequest(request: RawRequest): string {
  return `${request.method} ${JSON.stringify(Buffer.from(request.target).toString('latin1'))}`;
}

function parseResponse(bytes: Buffer): RawResponse {
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`the connection closed without a complete answer (${bytes.length} bytes)`);
  const head = bytes.subarray(0, end).toString('latin1');
  const [statusLine = '', ...headerLines] = head.split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1];
  if (status === undefined) throw new Error(`not an HTTP answer: ${JSON.stringify(statusLine)}`);
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  let body = bytes.subarray(end + 4);
  if (headers['transfer-encoding']?.toLowerCase() === 'chunked') body = dechunk(body);
  return { status: Number(status), headers, body, head };
}

function dechunk(bytes: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', at);
    if (lineEnd < 0) throw new Error('a chunked body cut short');
    const size = parseInt(bytes.subarray(at, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size)) throw new Error('a malformed chunk size');
    if (size === 0) return Buffer.concat(parts);
    parts.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}
