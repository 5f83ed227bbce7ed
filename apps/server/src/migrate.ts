import 'reflect-metadata';
import { ConfigError, loadConfig } from '@artifactstore/config';
import { Database } from '@artifactstore/db';

/** `npm run migrate` applies pending migrations; `npm run migrate:fresh` (--fresh) drops everything first. */
async function main(): Promise<void> {
  const fresh = process.argv.includes('--fresh');
  const config = loadConfig(process.env);
  const database = await Database.open(config, { migrate: false });
  try {
    const applied = fresh ? await database.migrateFresh() : await database.migrate();
    const target = config.database.dialect === 'sqlite' ? config.database.path : 'PostgreSQL';
    process.stdout.write(
      applied.length === 0
        ? `${target}: schema is up to date\n`
        : `${target}: applied ${applied.join(', ')}${fresh ? ' (fresh)' : ''}\n`,
    );
  } finally {
    await database.close();
  }
}

main().catch((error: unknown) => {
  const message = error instanceof ConfigError || !(error instanceof Error) ? String(error) : error.message;
  process.stderr.write(`artifactstore migrate: ${message.replace(/^ConfigError: /, '')}\n`);
  process.exit(error instanceof ConfigError ? 2 : 1);
});
