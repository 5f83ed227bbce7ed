/**
 * @artifactstore/api — the HTTP API over the registry: the only lib that knows HTTP. Import `ApiModule` and call
 * `configureHttpApp(app)` on an app created with `bodyParser: false`.
 */
export { ApiModule } from './api.module.js';
export { configureHttpApp, IDLE_TIMEOUT_MS, HEADERS_TIMEOUT_MS, type HttpAppOptions } from './http-setup.js';
/**
 * The bound on clients held open waiting for events (ARTIFACTSTORE_MAX_WAITING_CLIENTS), for the long-poll and
 * the SSE stream alike: `acquire(kind)` (or `tryAcquire`) before waiting, `release()` when done, and end the wait
 * when the lease's `signal` aborts (shutdown).
 */
export {
  WaitingClients,
  WAITING_CLIENTS_RETRY_AFTER_SECONDS,
  type WaitingClientKind,
  type WaitingClientLease,
} from './waiting-clients.js';
/** Graceful shutdown: `app.get(RequestDrain).drain(server, graceMs)` before `app.close()`. */
export { RequestDrain } from './request-drain.js';
export { statusOf, type Problem, type ProblemCode } from './problem.js';
export { buildOpenApiDocument } from './openapi.js';
