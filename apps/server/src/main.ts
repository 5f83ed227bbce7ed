import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ConfigError, loadConfig, type AppConfig } from '@artifactstore/config';
import { AppModule } from './app.module.js';
import { nestLogLevels } from './nest-log-levels.js';

/** Starts the HTTP server on the configured database, migrating first unless ARTIFACTSTORE_MIGRATE_ON_START=false. */
async function main(): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`artifactstore: ${error.message}\n`);
    process.exit(2);
  }
  // Nest declares its options as a class with only public fields; a literal is how its own docs pass them.
  // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment
  const app = await NestFactory.create(AppModule.forRoot(config), { logger: nestLogLevels(config.logLevel) });
  await app.listen(config.port, config.host);
  // Our own handler rather than enableShutdownHooks(): Nest re-raises the signal after closing, so the process
  // would end "killed by SIGTERM" instead of exiting 0 after a clean shutdown.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      new Logger('artifactstore').log(`${signal}: shutting down`);
      app.close().then(
        () => process.exit(0),
        (error: unknown) => {
          process.stderr.write(`artifactstore: shutdown failed: ${String(error)}\n`);
          process.exit(1);
        },
      );
    });
  }
  const where = config.database.dialect === 'sqlite' ? config.database.path : 'PostgreSQL';
  new Logger('artifactstore').log(`listening on ${await app.getUrl()} (database: ${where})`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `artifactstore: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
