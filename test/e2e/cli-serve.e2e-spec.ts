import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { finished, listeningUrl, runCli, startCli } from '../support/cli-runner.js';
import { createScratchSqlite } from '../support/scratch-database.js';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';

describe('artifactstore serve', () => {
  let database: TestDatabase;

  beforeEach(async () => {
    database = await createScratchSqlite();
  });

  afterEach(async () => {
    await database.dispose();
  });

  it('migrates the embedded default, serves /healthz and /readyz, logs JSON lines, and exits 0 on SIGTERM', async () => {
    const child = startCli(['serve'], {
      ARTIFACTSTORE_DATA_DIR: database.config.dataDir,
      ARTIFACTSTORE_PORT: '0',
      // The client's own variables, exported in the same shell, do not trouble the server's configuration.
      ARTIFACTSTORE_URL: 'http://127.0.0.1:1',
      ARTIFACTSTORE_TOKEN: 'unused',
    });
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    try {
      const { url, output } = await listeningUrl(child);
      expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: 'ok' });
      expect(await (await fetch(`${url}/readyz`)).json()).toEqual({ status: 'ready', head_sequence: 0 });
      expect(existsSync(join(database.config.dataDir, 'artifactstore.db'))).toBe(true);
      expect(output()).toContain('applied migration InitialSchema1764201600000');

      child.kill('SIGTERM');
      const [code, signal] = await exited;
      expect({ code, signal }).toEqual({ code: 0, signal: null });
      const lines = output().trim().split('\n');
      for (const line of lines) expect(() => JSON.parse(line) as unknown).not.toThrow();
      expect(lines.map((line) => (JSON.parse(line) as { msg: string }).msg)).toEqual(
        expect.arrayContaining(['SIGTERM: shutting down', 'request']),
      );
      // Started as a plain `node main.js serve`, it says which flag it misses (npm start passes it, below).
      expect(output()).toContain('node was started without --initial-old-space-size=256');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('refuses a bad configuration with one line naming every bad variable, and exit 1', async () => {
    const run = await runCli(['serve'], {
      ARTIFACTSTORE_DATA_DIR: database.config.dataDir,
      ARTIFACTSTORE_PORT: 'eighty',
      ARTIFACTSTORE_LOG_LEVEL: 'loud',
    });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^artifactstore: invalid_config: ARTIFACTSTORE_PORT: expected an integer from 0 to 65535, got "eighty"; ARTIFACTSTORE_LOG_LEVEL: expected one of /,
    );
  });

  it('exits 1 at once with one line when it cannot listen, not after its database pool idles out', async () => {
    // PostgreSQL when it is configured: its pool would keep a failed server alive for ~10 s.
    const shared = await (dialectsUnderTest().at(-1) ?? { create: createScratchSqlite }).create();
    const target = shared.config.database;
    const env = {
      ARTIFACTSTORE_DATA_DIR: shared.config.dataDir,
      ...(target.dialect === 'postgres' ? { ARTIFACTSTORE_DATABASE_URL: target.url } : {}),
    };
    const firstStartedAt = Date.now();
    const first = startCli(['serve'], { ...env, ARTIFACTSTORE_PORT: '0' });
    try {
      const { url } = await listeningUrl(first);
      // What a start costs on this machine now (it is slower under load): the second server may take as long to
      // find the port taken, but not the pool's ~10 s idle timeout on top.
      const startupMs = Date.now() - firstStartedAt;
      const startedAt = Date.now();
      const second = await runCli(['serve'], { ...env, ARTIFACTSTORE_PORT: new URL(url).port });
      expect(second.code).toBe(1);
      expect(second.stderr.trim().split('\n')).toEqual([
        expect.stringMatching(/^artifactstore: [a-z_]+: .*EADDRINUSE/),
      ]);
      expect(Date.now() - startedAt).toBeLessThan(startupMs + 6000);
    } finally {
      if (first.exitCode === null && first.signalCode === null) {
        first.kill('SIGTERM');
        await once(first, 'exit');
      }
      await shared.dispose();
    }
  });

  it('is what `npm start` runs: it serves, and stops cleanly on Ctrl-C (SIGINT to the process group)', async () => {
    const scripts = (
      JSON.parse(await readFile('package.json', 'utf8')) as { scripts: Record<string, string> }
    ).scripts;
    expect(scripts.start).toBe('node --initial-old-space-size=256 dist/apps/cli/src/main.js serve');
    const npm = spawn('npm', ['start'], {
      detached: true,
      env: {
        PATH: process.env.PATH,
        ARTIFACTSTORE_DATA_DIR: database.config.dataDir,
        ARTIFACTSTORE_PORT: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const pid = npm.pid ?? 0;
    try {
      const { url, output } = await listeningUrl(npm);
      const closed = finished(npm);
      expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: 'ok' });
      process.kill(-pid, 'SIGINT');
      // The pipes close once every process of the group, the server included, has exited.
      await closed;
      expect(output()).toContain('"msg":"SIGINT: shutting down"');
      expect(output()).toContain('"context":"shutdown"');
      expect(output()).not.toContain('started without');
      await expect(fetch(`${url}/healthz`)).rejects.toThrow();
    } finally {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // The group is gone already: the test stopped it.
      }
    }
  });
});
