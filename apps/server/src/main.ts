import 'reflect-metadata';
import { ConfigError, loadConfig } from '@artifactstore/config';
import { startServer } from './server.js';

try {
  await startServer(loadConfig(process.env));
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`artifactstore: ${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(
    `artifactstore: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
}
