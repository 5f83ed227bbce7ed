import { type INestApplication, Logger, type LoggerService, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { configureHttpApp } from '@artifactstore/api';
import type { AppConfig } from '@artifactstore/config';
import { AppModule } from './app.module.js';
import { nestLogLevels } from './nest-log-levels.js';

/**
 * Creates and starts the HTTP server on `config` (migrating first unless ARTIFACTSTORE_MIGRATE_ON_START=false),
 * and closes it cleanly on SIGTERM or SIGINT. Used by `npm start` and, later, `artifactstore serve`.
 */
export async function startServer(config: AppConfig): Promise<INestApplication> {
  const app = await createServerApp(config, nestLogLevels(config.logLevel));
  await app.listen(config.port, config.host);
  const logger = new Logger('artifactstore');
  // Our own handler rather than enableShutdownHooks(): Nest re-raises the signal after closing, so the process
  // would end "killed by SIGTERM" instead of exiting 0 after a clean shutdown.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      logger.log(`${signal}: shutting down`);
      app.close().then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error(`shutdown failed: ${String(error)}`);
          process.exit(1);
        },
      );
    });
  }
  const where = config.database.dialect === 'sqlite' ? config.database.path : 'PostgreSQL';
  logger.log(`listening on ${await app.getUrl()} (database: ${where})`);
  return app;
}

/**
 * The HTTP application on `config`, configured but not listening (tests call `init()` or `listen(0)` on it).
 * Body parsing is left to configureHttpApp: Nest's default parsers would consume file uploads.
 */
export async function createServerApp(
  config: AppConfig,
  logger: LoggerService | LogLevel[] | false = false,
): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    bodyParser: false,
    logger,
  });
  configureHttpApp(app);
  return app;
}
