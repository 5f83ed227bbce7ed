import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The binary of Debian's `docker-registry` package (the CNCF distribution registry, v2). */
export const DISTRIBUTION_REGISTRY_BINARY = 'docker-registry';

/** A distribution registry serving from its own temp folder on 127.0.0.1, until stop(). */
export interface DistributionRegistry {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  readonly base: string;
  /** What `docker-registry --version` prints. */
  readonly version: string;
  /** The registry process's user + system CPU seconds so far (from /proc). */
  cpuSeconds(): Promise<number>;
  /** Kills the process and removes its folder; safe to call twice. */
  stop(): Promise<void>;
}

/**
 * The registry's version, or an Error with a one-line message saying how to install it. The bench does not
 * install it itself: a benchmark that runs apt-get as a side effect would surprise whoever runs it.
 */
export async function distributionRegistryVersion(): Promise<string> {
  try {
    const { stdout } = await run(DISTRIBUTION_REGISTRY_BINARY, ['--version']);
    return stdout.trim();
  } catch {
    throw new Error(
      `${DISTRIBUTION_REGISTRY_BINARY} not found: install it with \`apt-get install -y docker-registry\` ` +
        '(Debian/Ubuntu), or leave "distribution" out of --suites',
    );
  }
}

/**
 * Starts the registry on a free loopback port with filesystem storage in a fresh temp folder and its own config
 * file: no auth, no delete, no storage health check, access log off (artifactstore logs nothing in the bench
 * either), and the in-memory blob descriptor cache of the package's default config.
 */
export async function startDistributionRegistry(): Promise<DistributionRegistry> {
  const version = await distributionRegistryVersion();
  const folder = await mkdtemp(join(tmpdir(), 'artifactstore-distribution-'));
  const port = await freePort();
  const configPath = join(folder, 'config.yml');
  await writeFile(
    configPath,
    [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  cache:',
      '    blobdescriptor: inmemory',
      '  filesystem:',
      `    rootdirectory: ${join(folder, 'storage')}`,
      '  delete:',
      '    enabled: false',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '',
    ].join('\n'),
  );
  const child = spawn(DISTRIBUTION_REGISTRY_BINARY, ['serve', configPath], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    stderr = (stderr + text).slice(-4000);
  });
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve();
    }),
  );
  // Stopped whatever happens: also when the bench ends without reaching stop() or is killed by a signal.
  const killNow = (): void => {
    child.kill('SIGKILL');
    rmSync(folder, { recursive: true, force: true });
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    killNow();
    process.kill(process.pid, signal);
  };
  process.once('exit', killNow);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (!stopped) {
      stopped = true;
      process.off('exit', killNow);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        // The registry drains for up to its http.draintimeout (0 by default): a second is plenty.
        if ((await Promise.race([exited.then(() => 'exited'), sleep(2000)])) !== 'exited') {
          child.kill('SIGKILL');
          await exited;
        }
      }
    }
    await rm(folder, { recursive: true, force: true });
  };
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitUntilServing(base, child, () => stderr);
  } catch (error) {
    await stop();
    throw error;
  }
  return { base, version, cpuSeconds: () => processCpuSeconds(child), stop };
}

async function waitUntilServing(base: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited ${child.exitCode}: ${stderr()}`);
    try {
      if ((await fetch(`${base}/v2/`)).status === 200) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`docker-registry did not answer on ${base}: ${stderr()}`);
    await sleep(50);
  }
}

/** A port nobody listens on right now (the registry takes it a moment later; loopback, so a race is unlikely). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  if (address === null || typeof address === 'string') throw new Error('no TCP port');
  return address.port;
}

/** utime + stime of a child from /proc/<pid>/stat, in seconds (Linux clock ticks are 1/100 s). */
async function processCpuSeconds(child: ChildProcess): Promise<number> {
  if (child.pid === undefined) return 0;
  const stat = await readFile(`/proc/${child.pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces: state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
