import { type AppConfig, ConfigError, loadConfig } from '@artifactstore/config';
import { CliError } from './cli.errors.js';

/** The variables only the CLI reads (through commander's `.env()`); the server's schema would call them typos. */
export const CLIENT_VARIABLES = [
  'ARTIFACTSTORE_URL',
  'ARTIFACTSTORE_TOKEN',
  'ARTIFACTSTORE_LOG_KEY',
] as const;

/**
 * The server's configuration from the environment, without the CLI's own variables: `loadConfig` refuses any
 * ARTIFACTSTORE_* it does not know, and a user who exported ARTIFACTSTORE_URL for the client should still be able
 * to run `--local`, `serve` or `migrate` from the same shell. Every problem goes on the one error line.
 */
export function serverConfig(env: NodeJS.ProcessEnv): AppConfig {
  const own = new Set<string>(CLIENT_VARIABLES);
  try {
    return loadConfig(Object.fromEntries(Object.entries(env).filter(([name]) => !own.has(name))));
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError('invalid_config', error.problems.join('; '), 1);
    throw error;
  }
}
