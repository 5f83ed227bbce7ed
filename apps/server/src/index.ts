/** @artifactstore/server — the HTTP server application: its root module and how to start it. */
export { AppModule } from './app.module.js';
export { startServer, createServerApp, shutDown, type ServerAppOptions } from './server.js';
export { createLog } from './log.js';
