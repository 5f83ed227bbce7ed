import { randomUUID } from 'node:crypto';
import type { NestExpressApplication } from '@nestjs/platform-express';
import express, { type NextFunction, type Response } from 'express';
import type { Logger } from 'pino';
import { AppConfig } from '@artifactstore/config';
import { clientAddressOf } from './client-address.js';
import { answerHttpLayerErrors } from './http-layer-errors.js';
import { Metrics } from './metrics.service.js';
import { setupOpenApi } from './openapi.js';
import type { ApiRequest } from './principal.js';
import { RequestDrain } from './request-drain.js';
import { noteRequestStart, requestFacts } from './request-facts.js';
import { requestLogger } from './request-log.js';
import { TrustedProxies } from './trusted-proxies.js';

/** Longest JSON body accepted (metadata itself is limited to 64 KiB by the registry). */
const JSON_BODY_LIMIT = '1mb';
/** A connection that sends or accepts nothing for this long is closed; uploads and downloads may take hours. */
export const IDLE_TIMEOUT_MS = 120_000;
/**
 * What a client gets to send its request line and headers (slowloris), beyond the keep-alive timeout: see
 * configureHttpApp. Bodies are bounded by the idle timeout.
 */
export const HEADERS_TIMEOUT_MS = 20_000;

export interface HttpAppOptions {
  /** Where one JSON line per request goes; without it requests are not logged (tests). */
  readonly requestLog?: Logger;
}

const INCOMING_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * What the HTTP server needs around the Nest routes: a request id on every response (a trusted proxy's, or ours),
 * JSON parsing for POST only (a PUT of a file must reach the dataplane untouched, whatever its Content-Type), and
 * idle timeouts instead of Node's 300 s request timeout, which would cut a large upload, with the keep-alive of
 * ARTIFACTSTORE_KEEP_ALIVE_TIMEOUT_SECONDS. Create the app with `bodyParser: false`. Also: the client address from
 * a trusted proxy's X-Forwarded-For, validated (request.ip), metrics and the request log for every request, and the
 * in-flight tracking that graceful shutdown (RequestDrain) waits on.
 */
export function configureHttpApp(app: NestExpressApplication, options: HttpAppOptions = {}): void {
  app.disable('x-powered-by');
  // Express matches routes case-insensitively by default, so /V1/ADMIN/replay would reach the admin routes under
  // a spelling that role checks on the path do not expect. One spelling per route.
  app.set('case sensitive routing', true);
  const trustedProxies = app.get(TrustedProxies);
  // For Express's own X-Forwarded-Proto and -Host; the client address is ours (assignClientAddress).
  app.set('trust proxy', (address: string) => trustedProxies.includes(address));
  app.use(assignClientAddress(trustedProxies));
  app.use(noteRequestStart);
  app.use(assignRequestId(trustedProxies));
  const drain = app.get(RequestDrain);
  const metrics = app.get(Metrics);
  app.use((request: ApiRequest, response: Response, next: NextFunction) => {
    drain.trackResponse(response);
    response.once('close', () => {
      metrics.record(requestFacts(request, response));
    });
    next();
  });
  if (options.requestLog) app.use(requestLogger(options.requestLog));
  const json = express.json({ limit: JSON_BODY_LIMIT });
  app.use((request: ApiRequest, response: Response, next: NextFunction) => {
    if (takesJson(request)) json(request, response, next);
    else next();
  });
  setupOpenApi(app);
  const keepAliveTimeoutMs = app.get(AppConfig).keepAliveTimeoutSeconds * 1000;
  const server = app.getHttpServer();
  server.requestTimeout = 0;
  // Node writes `Keep-Alive: timeout=<this in s>` and closes an idle connection a second after it.
  server.keepAliveTimeout = keepAliveTimeoutMs;
  // Node times the headers from a request's first byte on a reused connection but from the accept on a new one, and
  // answers 408 and closes when they are late: a new connection left idle (a gateway's spare) must last as long as
  // one left idle after a response, or the gateway meets the very race the keep-alive timeout is there to prevent.
  server.headersTimeout = keepAliveTimeoutMs + HEADERS_TIMEOUT_MS;
  server.timeout = Math.max(IDLE_TIMEOUT_MS, server.headersTimeout);
  answerHttpLayerErrors(server);
}

/**
 * Sets `request.ip` to the client's address by clientAddressOf. Express's own `ip` would make any hop that is not a
 * trusted proxy the client, malformed or not, so that junk in X-Forwarded-For could become the logged address.
 */
function assignClientAddress(
  trustedProxies: TrustedProxies,
): (request: ApiRequest, response: Response, next: NextFunction) => void {
  const isTrustedProxy = (address: string): boolean => trustedProxies.includes(address);
  return (request, _response, next) => {
    const address = clientAddressOf(
      request.socket.remoteAddress,
      request.headers['x-forwarded-for'],
      isTrustedProxy,
    );
    Object.defineProperty(request, 'ip', { value: address, enumerable: true, configurable: true });
    next();
  };
}

/**
 * Keeps the X-Request-Id of a trusted proxy (ARTIFACTSTORE_TRUSTED_PROXIES) when it is sane, else makes one, and
 * echoes it on the response. Any other client's id is ignored: the id ties log lines and problem bodies together,
 * and a client choosing it could make its requests pass for someone else's in the logs.
 */
function assignRequestId(
  trustedProxies: TrustedProxies,
): (request: ApiRequest, response: Response, next: NextFunction) => void {
  return (request, response, next) => {
    const incoming = request.headers['x-request-id'];
    const id =
      typeof incoming === 'string' &&
      INCOMING_REQUEST_ID.test(incoming) &&
      trustedProxies.includes(request.socket.remoteAddress)
        ? incoming
        : randomUUID();
    request.requestId = id;
    response.setHeader('X-Request-Id', id);
    next();
  };
}

/** The PUTs whose body is JSON, a hold and a tag's move: every other PUT streams a file's bytes. */
const JSON_PUT_PATHS = [/^\/v1\/packages\/[^/]+\/hold$/, /^\/v1\/tags\/[^/]+\/[^/]+$/];

/** Requests whose body, when JSON, is parsed before the controller: never a file upload's. */
function takesJson(request: ApiRequest): boolean {
  switch (request.method) {
    case 'POST':
    case 'PATCH':
    case 'DELETE':
      return true;
    case 'PUT':
      return JSON_PUT_PATHS.some((path) => path.test(request.path));
    default:
      return false;
  }
}
