/** @artifactstore/server — the HTTP server application: its root module and how to start it. */
export { AppModule } from './app.module.js';
export { startServer, createServerApp } from './server.js';
