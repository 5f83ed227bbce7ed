import type { ArtifactClient } from './artifact-client.js';
import { HttpArtifactClient, type HttpClientOptions } from './http-artifact-client.js';

export const DEFAULT_URL = 'http://127.0.0.1:8080';

/** The options every command takes (commander's `optsWithGlobals()`). */
export interface GlobalOptions {
  readonly url: string;
  readonly token?: string;
  readonly local?: boolean;
  readonly json?: boolean;
}

/** What only the HTTP client takes (`--local` ignores it). */
export type HttpTuning = Pick<HttpClientOptions, 'resumableAbove'>;

/** The client the options ask for: the registry in-process with `--local`, else the server at `--url`. */
export async function openClient(
  options: GlobalOptions,
  concurrency = 4,
  tuning: HttpTuning = {},
): Promise<ArtifactClient> {
  if (options.local) {
    // Loaded here only: the in-process registry brings Nest, TypeORM and the configuration schema. The client
    // first, as it loads reflect-metadata before any decorated class.
    const { LocalArtifactClient } = await import('./local-artifact-client.js');
    const { serverConfig } = await import('./server-config.js');
    return LocalArtifactClient.open(serverConfig(process.env));
  }
  return new HttpArtifactClient({
    url: options.url,
    token: options.token,
    maxSockets: concurrency,
    ...tuning,
  });
}

/** Runs `work` with a client and closes it afterwards, whatever happens. */
export async function withClient<T>(
  options: GlobalOptions,
  concurrency: number,
  work: (client: ArtifactClient) => Promise<T>,
  tuning: HttpTuning = {},
): Promise<T> {
  const client = await openClient(options, concurrency, tuning);
  try {
    return await work(client);
  } finally {
    await client.close();
  }
}
