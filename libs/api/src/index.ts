/**
 * @artifactstore/api — the HTTP API over the registry: the only lib that knows HTTP. Import `ApiModule` and call
 * `configureHttpApp(app)` on an app created with `bodyParser: false`.
 */
export { ApiModule } from './api.module.js';
export { configureHttpApp, IDLE_TIMEOUT_MS } from './http-setup.js';
export { statusOf, type Problem, type ProblemCode } from './problem.js';
export { roleAllows } from './auth.guard.js';
export { buildOpenApiDocument } from './openapi.js';
