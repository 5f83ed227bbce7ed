import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Writes `path` whole or not at all: the bytes go to a new temporary file beside it, which is then renamed over it,
 * so a reader (or a second run after a crash) finds the old content or the new, never a torn mix.
 */
export async function writeFileAtomically(
  path: string,
  data: string | Uint8Array,
  options: { readonly mode?: number } = {},
): Promise<void> {
  const temporary = join(
    dirname(path),
    `.${basename(path)}.${randomBytes(6).toString('hex')}.artifactstore-partial`,
  );
  try {
    await writeFile(temporary, data, { flag: 'wx', mode: options.mode });
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}
