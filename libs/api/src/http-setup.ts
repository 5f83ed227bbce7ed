import { randomUUID } from 'node:crypto';
import type { NestExpressApplication } from '@nestjs/platform-express';
import express, { type NextFunction, type Response } from 'express';
import { setupOpenApi } from './openapi.js';
import type { ApiRequest } from './principal.js';

/** Longest JSON body accepted (metadata itself is limited to 64 KiB by the registry). */
const JSON_BODY_LIMIT = '1mb';
/** A connection that sends or accepts nothing for this long is closed; uploads and downloads may take hours. */
export const IDLE_TIMEOUT_MS = 120_000;

const INCOMING_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * What the HTTP server needs around the Nest routes: a request id on every response, JSON parsing for POST only
 * (a PUT of a file must reach the dataplane untouched, whatever its Content-Type), and idle timeouts instead of
 * Node's 300 s request timeout, which would cut a large upload. Create the app with `bodyParser: false`.
 */
export function configureHttpApp(app: NestExpressApplication): void {
  app.disable('x-powered-by');
  app.use(assignRequestId);
  const json = express.json({ limit: JSON_BODY_LIMIT });
  app.use((request: ApiRequest, response: Response, next: NextFunction) => {
    if (request.method === 'POST') json(request, response, next);
    else next();
  });
  setupOpenApi(app);
  const server = app.getHttpServer();
  server.requestTimeout = 0;
  server.timeout = IDLE_TIMEOUT_MS;
}

/** Keeps a gateway's X-Request-Id when it is sane, else makes one; echoes it on the response. */
function assignRequestId(request: ApiRequest, response: Response, next: NextFunction): void {
  const incoming = request.headers['x-request-id'];
  const id = typeof incoming === 'string' && INCOMING_REQUEST_ID.test(incoming) ? incoming : randomUUID();
  request.requestId = id;
  response.setHeader('X-Request-Id', id);
  next();
}
