import type { Socket } from 'node:net';
import type { NextFunction, Response } from 'express';
import type { ApiRequest } from './principal.js';

/** What one finished request did, for its log line and its metrics. */
export interface RequestFacts {
  readonly requestId: string;
  readonly method: string;
  /** The route pattern (`/v1/packages/:id/files/*path`), never the raw URL; `(unmatched)` when none matched. */
  readonly route: string;
  readonly status: number;
  readonly durationMs: number;
  /** Bytes read from and written to the connection for this request, headers included. */
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** The response did not finish: the client left, or the connection was cut. */
  readonly aborted: boolean;
  /** The principal's name, when the request was authenticated. */
  readonly actor: string | undefined;
  /** The client's address: X-Forwarded-For's from a trusted proxy, else the socket's peer. */
  readonly clientAddress: string | undefined;
}

const UNMATCHED_ROUTE = '(unmatched)';
const started = Symbol('artifactstore.started');
const facts = Symbol('artifactstore.facts');
const connection = Symbol('artifactstore.connection');
const client = Symbol('artifactstore.client');

interface ObservedRequest extends ApiRequest {
  [started]?: bigint;
  /** Kept at the start: Node detaches the socket from a request whose response has closed. */
  [connection]?: Socket;
  [client]?: string;
  [facts]?: RequestFacts;
}

/** Byte counts of a keep-alive connection when its previous request finished. */
const socketBaselines = new WeakMap<Socket, { read: number; written: number }>();

/** Middleware that notes when a request started; install it before anything that may answer. */
export function noteRequestStart(request: ObservedRequest, _response: Response, next: NextFunction): void {
  request[started] = process.hrtime.bigint();
  request[connection] = request.socket;
  request[client] = request.ip;
  next();
}

/**
 * The facts of a finished request, computed once (the log and the metrics both ask). Bytes are the connection's
 * counters since the previous request on it finished, so a keep-alive connection's requests do not add up twice.
 */
export function requestFacts(request: ObservedRequest, response: Response): RequestFacts {
  const known = request[facts];
  if (known) return known;
  const socket = request[connection];
  const baseline = (socket && socketBaselines.get(socket)) ?? { read: 0, written: 0 };
  const read = socket?.bytesRead ?? baseline.read;
  const written = socket?.bytesWritten ?? baseline.written;
  if (socket) socketBaselines.set(socket, { read, written });
  const start = request[started] ?? process.hrtime.bigint();
  const route: unknown = (request.route as { path?: unknown } | undefined)?.path;
  const computed: RequestFacts = {
    requestId: request.requestId ?? 'unknown',
    method: request.method,
    route: typeof route === 'string' ? route : UNMATCHED_ROUTE,
    status: response.statusCode,
    durationMs: Number(process.hrtime.bigint() - start) / 1e6,
    bytesIn: Math.max(0, read - baseline.read),
    bytesOut: Math.max(0, written - baseline.written),
    aborted: !response.writableFinished,
    actor: request.principal?.name,
    clientAddress: request[client],
  };
  request[facts] = computed;
  return computed;
}
