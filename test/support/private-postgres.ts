import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './server-child.js';

const run = promisify(execFile);
const OS_USER = 'postgres';

export interface PrivatePostgresOptions {
  /**
   * Where the cluster's data directory goes (it must not exist yet; its parent is handed to the postgres user),
   * e.g. on a small tmpfs; default: inside the cluster's own temporary folder.
   */
  readonly dataDir?: string;
  /** Settings passed as `-c name=value` to postgres. */
  readonly settings?: Readonly<Record<string, string>>;
}

/**
 * A PostgreSQL cluster of the test's own (initdb and pg_ctl in a temporary folder, on a free port of 127.0.0.1,
 * trust authentication for `root`), never the machine's shared server, so that a test may stop it, crash it or
 * fill its disk. The write-ahead log always stays in the temporary folder (initdb -X), so a full data disk is a
 * full data disk (SQLSTATE 53100), not a WAL failure, which would stop the whole cluster.
 *
 * PostgreSQL refuses to run as root: as root, every program runs as the `postgres` OS user (runuser), which owns
 * the folders. Call `dispose()` in afterAll whatever happens: it stops the cluster at once and removes its folder.
 */
export class PrivatePostgres {
  private running = false;

  private constructor(
    private readonly binDir: string,
    private readonly folder: string,
    readonly dataDir: string,
    readonly port: number,
    private readonly settings: Readonly<Record<string, string>>,
  ) {}

  /** `postgres://root@127.0.0.1:<port>/<database>`. */
  urlOf(database = 'postgres'): string {
    return `postgres://root@127.0.0.1:${this.port}/${database}`;
  }

  /** initdb, then start. */
  static async start(options: PrivatePostgresOptions = {}): Promise<PrivatePostgres> {
    const binDir = await postgresBinDir();
    if (binDir instanceof Error) throw binDir;
    const folder = await mkdtemp(join(tmpdir(), 'artifactstore-private-pg-'));
    const dataDir = options.dataDir ?? join(folder, 'data');
    const cluster = new PrivatePostgres(binDir, folder, dataDir, await freePort(), options.settings ?? {});
    try {
      await mkdir(join(folder, 'socket'));
      await asOwner('chown', ['-R', `${OS_USER}:${OS_USER}`, folder]);
      if (options.dataDir) await asOwner('chown', [`${OS_USER}:${OS_USER}`, join(dataDir, '..')]);
      await cluster.program('initdb', [
        '-D',
        dataDir,
        '-X',
        join(folder, 'wal'),
        '-A',
        'trust',
        '-U',
        'root',
        '-E',
        'UTF8',
        '--locale=C',
        '--no-sync',
      ]);
      await cluster.startServer();
      return cluster;
    } catch (error) {
      await cluster.dispose();
      throw error;
    }
  }

  /** Starts the stopped cluster again (crash recovery first, after an immediate stop). */
  async startServer(): Promise<void> {
    const settings = {
      listen_addresses: '127.0.0.1',
      port: String(this.port),
      unix_socket_directories: join(this.folder, 'socket'),
      max_connections: '60',
      fsync: 'off',
      ...this.settings,
    };
    const options = Object.entries(settings)
      .map(([name, value]) => `-c ${name}=${value}`)
      .join(' ');
    await this.program('pg_ctl', [
      'start',
      '-D',
      this.dataDir,
      '-l',
      join(this.folder, 'postgres.log'),
      '-w',
      '-t',
      '60',
      '-o',
      options,
    ]);
    this.running = true;
  }

  /** `pg_ctl stop -m <mode>`: `fast` disconnects clients cleanly, `immediate` is a crash (recovery at start). */
  async stopServer(mode: 'smart' | 'fast' | 'immediate' = 'fast'): Promise<void> {
    await this.program('pg_ctl', ['stop', '-D', this.dataDir, '-m', mode, '-w', '-t', '60']);
    this.running = false;
  }

  /** A new database; returns its URL. */
  async createDatabase(name: string): Promise<string> {
    const client = new pg.Client({ connectionString: this.urlOf() });
    await client.connect();
    try {
      await client.query(`CREATE DATABASE ${name}`);
    } finally {
      await client.end();
    }
    return this.urlOf(name);
  }

  /** The cluster's own log, for failure messages. */
  async log(): Promise<string> {
    return readFile(join(this.folder, 'postgres.log'), 'utf8').catch(() => '');
  }

  /** Stops the cluster (immediate) if it runs and removes its temporary folder. */
  async dispose(): Promise<void> {
    if (this.running || existsSync(join(this.dataDir, 'postmaster.pid'))) {
      await this.stopServer('immediate').catch(() => undefined);
    }
    await rm(this.folder, { recursive: true, force: true });
  }

  private async program(name: string, args: readonly string[]): Promise<string> {
    const path = join(this.binDir, name);
    const asRoot = process.getuid?.() === 0;
    try {
      const { stdout } = await run(
        asRoot ? 'runuser' : path,
        asRoot ? ['-u', OS_USER, '--', path, ...args] : args,
        {
          env: { PATH: process.env.PATH, LC_ALL: 'C' },
          cwd: this.folder,
          timeout: 90_000,
        },
      );
      return stdout;
    } catch (error) {
      const failed = error as { stderr?: string; stdout?: string; message: string };
      throw new Error(
        `${name} ${args.join(' ')} failed: ${failed.message}\n${failed.stdout ?? ''}${failed.stderr ?? ''}\n${await this.log()}`,
        { cause: error },
      );
    }
  }
}

/**
 * Whether a private cluster can be started here: PostgreSQL's server programs (initdb, pg_ctl) must be installed
 * and, as root, the `postgres` OS user must exist. Returns why not, or undefined.
 */
export async function privatePostgresUnavailable(): Promise<string | undefined> {
  const binDir = await postgresBinDir();
  if (binDir instanceof Error) return binDir.message;
  if (process.getuid?.() === 0) {
    const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
    if (!passwd.split('\n').some((line) => line.startsWith(`${OS_USER}:`))) {
      return `no ${OS_USER} OS user to run PostgreSQL as (it refuses root)`;
    }
  }
  return undefined;
}

/** The folder of initdb and pg_ctl: pg_config's bindir when it has them, else the newest /usr/lib/postgresql/N/bin. */
async function postgresBinDir(): Promise<string | Error> {
  const candidates: string[] = [];
  try {
    candidates.push((await run('pg_config', ['--bindir'])).stdout.trim());
  } catch {
    // no pg_config: look in Debian's folder
  }
  const versions = await readdir('/usr/lib/postgresql').catch(() => [] as string[]);
  for (const version of versions.sort((a, b) => Number(b) - Number(a))) {
    candidates.push(join('/usr/lib/postgresql', version, 'bin'));
  }
  const found = candidates.find((dir) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl')));
  return found ?? new Error(`no initdb and pg_ctl in ${candidates.join(', ') || 'pg_config --bindir'}`);
}

async function asOwner(command: string, args: readonly string[]): Promise<void> {
  if (process.getuid?.() !== 0) return;
  await run(command, args);
}
