import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const SERVER = 'dist/apps/server/src/main.js';
/** The captured log is cut to its last this-many characters. */
const OUTPUT_LIMIT = 4 * 1024 * 1024;

export interface ServerChildOptions {
  /** ARTIFACTSTORE_DATA_DIR. */
  readonly dataDir: string;
  /** ARTIFACTSTORE_DATABASE_URL; without it, SQLite in the data folder. */
  readonly databaseUrl?: string;
  /** More ARTIFACTSTORE_* variables. */
  readonly env?: Readonly<Record<string, string>>;
  /** Where the server's stdout (its JSON log) goes: captured (the default), or this open file descriptor. */
  readonly stdoutFd?: number;
}

/**
 * The built server (dist, as `npm start` runs it) in a child process on a fixed free port, so that it can be
 * killed with any signal and started again on the same data and the same URL. Ready once GET /healthz answers.
 * Exits it did not ask for are recorded (`unexpectedExits`): a fault test asserts that there are none.
 */
export class ServerChild {
  readonly url: string;
  /** Exit codes or signals of exits nobody asked for, with the log's tail at that moment. */
  readonly unexpectedExits: string[] = [];
  private child: ChildProcess | undefined;
  private captured = '';
  private expectingExit = false;

  private constructor(
    readonly port: number,
    private readonly options: ServerChildOptions,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  static async start(options: ServerChildOptions): Promise<ServerChild> {
    const server = new ServerChild(await freePort(), options);
    await server.launch();
    return server;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** True while the process runs. */
  alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The stdout (when captured) and stderr of every run so far, cut to the last 4 MiB. */
  output(): string {
    return this.captured;
  }

  /** Log lines at level error or fatal, and anything on stderr that is not JSON. */
  errorLines(): string[] {
    return this.captured
      .split('\n')
      .filter(
        (line) => /"level":"(error|fatal)"/.test(line) || (line.trim() !== '' && !line.startsWith('{')),
      );
  }

  /** Log lines that mention any of `words` (request ids of bad answers, say), for failure reports. */
  linesMentioning(words: readonly string[]): string[] {
    if (words.length === 0) return [];
    return this.captured.split('\n').filter((line) => words.some((word) => line.includes(word)));
  }

  /** Sends `signal` and waits for the exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (child === undefined || !this.alive()) return;
    this.expectingExit = true;
    const exited = once(child, 'exit');
    child.kill(signal);
    await exited;
  }

  /** SIGTERM, then SIGKILL if it has not exited within 15 s. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined || !this.alive()) return;
    this.expectingExit = true;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }

  /** Starts the server again on the same port, data and database (after kill or stop). */
  async restart(): Promise<void> {
    if (this.alive()) throw new Error('the server is still running');
    await this.launch();
  }

  private async launch(): Promise<void> {
    this.expectingExit = false;
    const child = spawn(process.execPath, [SERVER], {
      env: {
        PATH: process.env.PATH,
        ARTIFACTSTORE_DATA_DIR: this.options.dataDir,
        ...(this.options.databaseUrl ? { ARTIFACTSTORE_DATABASE_URL: this.options.databaseUrl } : {}),
        ARTIFACTSTORE_PORT: String(this.port),
        ...this.options.env,
      },
      stdio: ['ignore', this.options.stdoutFd ?? 'pipe', 'pipe'],
    });
    this.child = child;
    const capture = (chunk: Buffer): void => {
      this.captured += chunk.toString();
      if (this.captured.length > OUTPUT_LIMIT) this.captured = this.captured.slice(-OUTPUT_LIMIT / 2);
    };
    child.stdout?.on('data', capture);
    child.stderr?.on('data', capture);
    child.once('exit', (code, signal) => {
      if (!this.expectingExit) {
        this.unexpectedExits.push(
          `pid ${child.pid} exited with ${signal ?? `code ${code}`}; log tail:\n${this.captured.slice(-3000)}`,
        );
      }
    });
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (!this.alive()) {
        throw new Error(
          `the server exited while starting (${child.exitCode}):\n${this.captured.slice(-3000)}`,
        );
      }
      if (await answersHealth(this.url)) return;
      await sleep(50);
    }
    throw new Error(`the server did not answer /healthz within 60 s:\n${this.captured.slice(-3000)}`);
  }
}

async function answersHealth(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}

/** A TCP port nothing listens on now (the OS's choice for port 0). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}
