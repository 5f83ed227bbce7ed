import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { TestDatabase } from './test-databases.js';

const SERVER = 'dist/apps/server/src/main.js';

/** A second server process (the built one) on the same database and data folder, with extra environment. */
export interface ServerProcess {
  readonly process: ChildProcess;
  readonly url: string;
  stop(): Promise<void>;
}

export async function spawnServer(
  testDatabase: TestDatabase,
  env: Record<string, string> = {},
): Promise<ServerProcess> {
  const database = testDatabase.config.database;
  if (database.dialect !== 'postgres') throw new Error('a second server process needs PostgreSQL');
  const child = spawn(process.execPath, [SERVER], {
    env: {
      PATH: process.env.PATH,
      ARTIFACTSTORE_DATA_DIR: testDatabase.config.dataDir,
      ARTIFACTSTORE_DATABASE_URL: database.url,
      ARTIFACTSTORE_PORT: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = /listening on (http:\/\/[^\s"]+)/.exec(output);
      if (match?.[1]) resolve(match[1].replace('[::1]', '127.0.0.1'));
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      reject(new Error(`second server exited with ${code}: ${output}`));
    });
  });
  return {
    process: child,
    url,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}
