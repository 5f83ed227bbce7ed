import 'reflect-metadata';
import { Database } from '@artifactstore/db';
import { startServer } from '@artifactstore/server';
import { printResult } from '../output.js';
import { serverConfig } from '../server-config.js';

/**
 * `artifactstore serve`: the HTTP server on the environment's configuration, as `npm start` runs it. It keeps
 * the process alive until SIGTERM or SIGINT, on which it drains, closes the database and exits 0.
 */
export async function serve(): Promise<void> {
  await startServer(serverConfig(process.env));
}

/** `artifactstore migrate [--fresh]`: pending migrations, or (fresh) everything dropped and migrated again. */
export async function migrate(fresh: boolean, json: boolean | undefined): Promise<void> {
  const config = serverConfig(process.env);
  const database = await Database.open(config, { migrate: false });
  try {
    const applied = fresh ? await database.migrateFresh() : await database.migrate();
    const target = config.database.dialect === 'sqlite' ? config.database.path : 'PostgreSQL';
    printResult(json, { database: target, applied, fresh }, () =>
      applied.length === 0
        ? `${target}: schema is up to date`
        : `${target}: applied ${applied.join(', ')}${fresh ? ' (fresh)' : ''}`,
    );
  } finally {
    await database.close();
  }
}
