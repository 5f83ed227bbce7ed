import 'reflect-metadata';
import { ConfigError, loadConfig } from '@artifactstore/config';
import { startServer } from './server.js';

// Nest's entry for this app (nest-cli.json); `artifactstore serve` is the same server behind the CLI, and both
// answer a bad configuration alike: one line naming every bad variable, exit 1.
try {
  await startServer(loadConfig(process.env));
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`artifactstore: ${error.code}: ${error.problems.join('; ')}\n`);
    process.exit(1);
  }
  process.stderr.write(
    `artifactstore: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
}
