import { type AppConfig, ConfigError, loadConfig } from '@artifactstore/config';
import type { ArtifactClient } from './artifact-client.js';
import { CliError } from './cli.errors.js';
import { HttpArtifactClient } from './http-artifact-client.js';
import { LocalArtifactClient } from './local-artifact-client.js';

/** The variables only the CLI reads (through commander's `.env()`); the server's schema would call them typos. */
export const CLIENT_VARIABLES = ['ARTIFACTSTORE_URL', 'ARTIFACTSTORE_TOKEN'] as const;

export const DEFAULT_URL = 'http://127.0.0.1:8080';

/** The options every command takes (commander's `optsWithGlobals()`). */
export interface GlobalOptions {
  readonly url: string;
  readonly token?: string;
  readonly local?: boolean;
  readonly json?: boolean;
}

/**
 * The server's configuration from the environment, without the CLI's own variables: `loadConfig` refuses any
 * ARTIFACTSTORE_* it does not know, and a user who exported ARTIFACTSTORE_URL for the client should still be able
 * to run `--local`, `serve` or `migrate` from the same shell.
 */
export function serverConfig(env: NodeJS.ProcessEnv): AppConfig {
  const own = new Set<string>(CLIENT_VARIABLES);
  try {
    return loadConfig(Object.fromEntries(Object.entries(env).filter(([name]) => !own.has(name))));
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError('invalid_config', error.message, 1);
    throw error;
  }
}

/** The client the options ask for: the registry in-process with `--local`, else the server at `--url`. */
export async function openClient(options: GlobalOptions, concurrency = 4): Promise<ArtifactClient> {
  if (options.local) return LocalArtifactClient.open(serverConfig(process.env));
  return new HttpArtifactClient({ url: options.url, token: options.token, maxSockets: concurrency });
}

/** Runs `work` with a client and closes it afterwards, whatever happens. */
export async function withClient<T>(
  options: GlobalOptions,
  concurrency: number,
  work: (client: ArtifactClient) => Promise<T>,
): Promise<T> {
  const client = await openClient(options, concurrency);
  try {
    return await work(client);
  } finally {
    await client.close();
  }
}
