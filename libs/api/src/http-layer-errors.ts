import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { problemOf, type ProblemCode } from './problem.js';

/** A parse error of Node's HTTP layer: `code` is llhttp's (HPE_…) or Node's own (ERR_HTTP_REQUEST_TIMEOUT). */
type ClientError = Error & { readonly code?: string };

/**
 * Requests that never reach Express, because Node's HTTP parser refuses them (a malformed request line or header,
 * a head over 16 KiB, conflicting lengths, a broken chunked body, headers that came too late) or because they ask
 * for an expectation Node does not meet: answered as every other refusal is, problem+json with a request id,
 * instead of Node's bare status line. The connection is closed after the answer: the parser cannot go on.
 */
export function answerHttpLayerErrors(server: Server): void {
  server.on('clientError', (error: ClientError, socket: Duplex) => {
    // A client that reset the connection, or one already answered: nobody to tell. A response on this connection
    // whose head is already out (a pipelined request after it was malformed) would have our answer spliced into its
    // body: close instead, as Node itself does. One whose head is not out yet is the request whose body broke.
    const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (error.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent === true) {
      socket.destroy();
      return;
    }
    const { code, detail } = describeClientError(error);
    const requestId = randomUUID();
    const problem = problemOf(code, detail, requestId);
    const body = JSON.stringify(problem);
    socket.end(
      [
        `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status] ?? ''}`,
        'Content-Type: application/problem+json',
        `Content-Length: ${Buffer.byteLength(body)}`,
        `X-Request-Id: ${requestId}`,
        'Connection: close',
        '',
        body,
      ].join('\r\n'),
    );
  });
  server.on('checkExpectation', refuseExpectation);
  // Node takes any Expect that names 100-continue among others for 100-continue alone; only that exact one is met.
  server.on('checkContinue', (request: IncomingMessage, response: ServerResponse) => {
    if (String(request.headers.expect).trim().toLowerCase() !== '100-continue') {
      refuseExpectation(request, response);
      return;
    }
    response.writeContinue();
    server.emit('request', request, response);
  });
}

/** 417 for an expectation the server does not meet, as a problem, closing the connection (the body is unread). */
function refuseExpectation(request: IncomingMessage, response: ServerResponse): void {
  const requestId = randomUUID();
  const problem = problemOf(
    'expectation_failed',
    `Expect: ${String(request.headers.expect)} is not supported; only 100-continue is`,
    requestId,
  );
  const body = JSON.stringify(problem);
  response.writeHead(problem.status, {
    'Content-Type': 'application/problem+json',
    'Content-Length': Buffer.byteLength(body),
    'X-Request-Id': requestId,
    Connection: 'close',
  });
  response.end(body);
}

function describeClientError(error: ClientError): { code: ProblemCode; detail: string } {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { code: 'headers_too_large', detail: 'the request line and headers exceed 16 KiB' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { code: 'request_timeout', detail: 'the request headers did not arrive in time' };
    default:
      return { code: 'invalid_input', detail: `malformed HTTP request (${error.code ?? error.message})` };
  }
}
