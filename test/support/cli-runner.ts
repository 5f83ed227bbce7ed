import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
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

/**
 * Runs `artifactstore <args>` on a pseudo-terminal (util-linux `script`), as a person at a terminal would: stdout
 * and stderr are both the terminal, so `stdout` holds everything the terminal showed (with `\r\n` line ends) and
 * `stderr` only what `script` itself says. The terminal has no size set, as under most CI runners.
 */
export function runCliOnTerminal(args: readonly string[], env: Record<string, string> = {}): Promise<CliRun> {
  const command = [process.execPath, CLI, ...args].map(shellQuoted).join(' ');
  return finished(
    spawn('script', ['--quiet', '--flush', '--return', '--command', command, '/dev/null'], {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
}

function shellQuoted(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
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

/**
 * Resolves with the URL a starting server logs (`listening on http://…`), read from its stdout and stderr;
 * rejects when it exits first. `output()` is everything it has written so far.
 */
export function listeningUrl(child: ChildProcess): Promise<{ url: string; output: () => string }> {
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      const match = /listening on (http:\/\/[^\s"]+)/.exec(output);
      if (match?.[1]) resolve({ url: match[1].replace('[::1]', '127.0.0.1'), output: () => output });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code, signal) => {
      reject(new Error(`the server exited (${code ?? signal}) before listening: ${output}`));
    });
  });
}

/**
 * Every file under `root`: relative `/` path → its size and SHA-256, so two trees compare byte for byte (jest's
 * deep equality on multi-MiB Buffers takes seconds, and its diff of them is unreadable).
 */
export async function digestTree(root: string): Promise<Map<string, string>> {
  const tree = new Map<string, string>();
  const walk = async (segments: string[]): Promise<void> => {
    for (const entry of await readdir(join(root, ...segments), { withFileTypes: true })) {
      const next = [...segments, entry.name];
      if (entry.isDirectory()) {
        await walk(next);
      } else {
        const bytes = await readFile(join(root, ...next));
        tree.set(
          next.join('/'),
          `${bytes.length} bytes, sha256 ${createHash('sha256').update(bytes).digest('hex')}`,
        );
      }
    }
  };
  await walk([]);
  return tree;
}
