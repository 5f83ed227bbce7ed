import { type INestApplication, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Logger as PinoLogger } from 'pino';
import { configureHttpApp, RequestDrain } from '@artifactstore/api';
import type { AppConfig } from '@artifactstore/config';
import { AppModule } from './app.module.js';
import { createLog } from './log.js';
import { hasOldSpaceFloor, SERVER_NODE_FLAGS } from './node-flags.js';
import { PinoNestLogger } from './pino-nest-logger.js';
import { shutDownOnSignals } from './shutdown-signals.js';

export interface ServerAppOptions {
  /** Where Nest's messages and one line per request go, as JSON; without it the app logs nothing (tests). */
  readonly log?: PinoLogger;
}

/**
 * Creates and starts the HTTP server on `config` (migrating first unless ARTIFACTSTORE_MIGRATE_ON_START=false),
 * logging JSON lines to stdout, and shuts it down gracefully on SIGTERM or SIGINT: no new connections, waiting
 * clients answered at once, other requests given ARTIFACTSTORE_SHUTDOWN_GRACE_MS, then the database closed. A
 * second signal during that exits at once (shutDownOnSignals).
 * Used by `npm start` and, later, `artifactstore serve`.
 */
export async function startServer(config: AppConfig): Promise<INestApplication> {
  const app = await createServerApp(config, { log: createLog(config.logLevel) });
  await app.listen(config.port, config.host);
  const logger = new Logger('artifactstore');
  // Our own handler rather than enableShutdownHooks(): Nest re-raises the signal after closing, so the process
  // would end "killed by SIGTERM" instead of exiting 0 after a clean shutdown.
  shutDownOnSignals(() => shutDown(app, config.shutdownGraceMs), logger, {
    on: (signal, listener) => process.on(signal, listener),
    exit: (code) => process.exit(code),
  });
  const where = config.database.dialect === 'sqlite' ? config.database.path : 'PostgreSQL';
  logger.log(`listening on ${await app.getUrl()} (database: ${where})`);
  if (!hasOldSpaceFloor(process.execArgv)) {
    logger.warn(
      `node was started without ${SERVER_NODE_FLAGS.join(' ')}: under sustained transfers V8 will collect ` +
        `garbage far more often (npm start and the image pass it; see apps/server/src/node-flags.ts)`,
    );
  }
  return app;
}

/** Drains the HTTP server (RequestDrain), then closes the app: tails end, the database closes. */
export async function shutDown(app: NestExpressApplication, graceMs: number): Promise<void> {
  await app.get(RequestDrain).drain(app.getHttpServer(), graceMs);
  await app.close();
}

/**
 * The HTTP application on `config`, configured but not listening (tests call `init()` or `listen(0)` on it).
 * Body parsing is left to configureHttpApp: Nest's default parsers would consume file uploads.
 */
export async function createServerApp(
  config: AppConfig,
  options: ServerAppOptions = {},
): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    bodyParser: false,
    logger: options.log ? new PinoNestLogger(options.log) : false,
  });
  configureHttpApp(app, { requestLog: options.log });
  return app;
}
