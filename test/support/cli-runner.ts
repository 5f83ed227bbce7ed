import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The built CLI, run as a user runs it. */
export const CLI = 'dist/apps/cli/src/main.js';

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `artifactstore <args>` with only PATH and `env` in its environment (pipes, so never a TTY). */
export function runCli(args: readonly string[], env: Record<string, string> = {}): Promise<CliRun> {
  return finished(startCli(args, env));
}

export function startCli(args: readonly string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export function finished(child: ChildProcess): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

/** Every file under `root` (relative `/` path → bytes), for byte-for-byte comparisons of trees. */
export async function readTree(root: string): Promise<Map<string, Buffer>> {
  const tree = new Map<string, Buffer>();
  const walk = async (segments: string[]): Promise<void> => {
    for (const entry of await readdir(join(root, ...segments), { withFileTypes: true })) {
      const next = [...segments, entry.name];
      if (entry.isDirectory()) await walk(next);
      else tree.set(next.join('/'), await readFile(join(root, ...next)));
    }
  };
  await walk([]);
  return tree;
}
