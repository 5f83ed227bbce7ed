import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import type { Response } from 'express';
import type { ApiRequest } from './principal.js';
import { requestFacts } from './request-facts.js';

/**
 * One JSON line per finished request (pino-http): request id, actor, method, route pattern, path, status,
 * duration and bytes. Built from an allow-list of fields: no header (so no Authorization, no cookie) and no query
 * string (where a secret may travel) is ever written.
 */
export function requestLogger(
  logger: Logger,
): (request: ApiRequest, response: Response, next: () => void) => void {
  const fields = (request: IncomingMessage, response: ServerResponse): object => {
    const apiRequest = request as ApiRequest;
    const facts = requestFacts(apiRequest, response as Response);
    return {
      actor: facts.actor ?? null,
      method: facts.method,
      route: facts.route,
      path: apiRequest.path,
      status: facts.status,
      duration_ms: Math.round(facts.durationMs * 1000) / 1000,
      bytes_in: facts.bytesIn,
      bytes_out: facts.bytesOut,
      client_address: facts.clientAddress ?? null,
      ...(facts.aborted ? { aborted: true } : {}),
    };
  };
  return pinoHttp({
    logger,
    genReqId: (request) => (request as ApiRequest).requestId ?? 'unknown',
    customAttributeKeys: { reqId: 'request_id' },
    quietReqLogger: true,
    quietResLogger: true,
    customLogLevel: (_request, response, error) =>
      error !== undefined || response.statusCode >= 500 ? 'error' : 'info',
    customSuccessObject: fields,
    customErrorObject: fields,
    customSuccessMessage: () => 'request',
    customErrorMessage: () => 'request failed',
  });
}
