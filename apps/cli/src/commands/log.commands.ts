import type { ArtifactClient } from '../artifact-client.js';
import { writeFileAtomically } from '../atomic-write.js';
import { printResult } from '../output.js';
import { packageIdOf } from './package-ref.js';

/**
 * `receipt <ref> [--size N] [--out f]`: the package's receipt, as the server gives it, for `verify --receipt`
 * offline. Nothing in it is checked here (that needs the log's key, and is verify's job): pretty JSON on stdout
 * (one line with `--json`), or written atomically to `--out`.
 */
export async function receipt(
  client: ArtifactClient,
  ref: string,
  options: { readonly size?: number; readonly out?: string; readonly json?: boolean },
): Promise<void> {
  const found = await client.receipt(await packageIdOf(client, ref), options.size);
  const text = options.json ? `${JSON.stringify(found)}\n` : `${JSON.stringify(found, null, 2)}\n`;
  if (options.out === undefined) {
    process.stdout.write(text);
    return;
  }
  await writeFileAtomically(options.out, text);
}

/** `log-key`: the verifier key of the log's checkpoints, what `--log-key` takes (`--json`: with the origin). */
export async function logKey(client: ArtifactClient, json: boolean | undefined): Promise<void> {
  const key = await client.logKey();
  printResult(json, { verifier_key: key, origin: key.slice(0, Math.max(key.indexOf('+'), 0)) }, () => key);
}
