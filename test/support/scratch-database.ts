import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { loadConfig, type AppConfig } from '@artifactstore/config';

/** A throwaway database of one dialect: its own SQLite file and data folder, or its own PostgreSQL database. */
export interface ScratchDatabase {
  readonly dialect: 'sqlite' | 'postgres';
  readonly config: AppConfig;
  dispose(): Promise<void>;
}

/** A fresh data folder with the embedded SQLite database in it. */
export async function createScratchSqlite(overrides: Record<string, string> = {}): Promise<ScratchDatabase> {
  const dataDir = await mkdtemp(join(tmpdir(), 'artifactstore-scratch-'));
  const config = loadConfig({ ARTIFACTSTORE_DATA_DIR: dataDir, ...overrides });
  return { dialect: 'sqlite', config, dispose: () => rm(dataDir, { recursive: true, force: true }) };
}

/** A new database `artifactstore_scratch_<random>` on the server of `adminUrl`, dropped by dispose(). */
export async function createScratchPostgres(
  adminUrl: string,
  overrides: Record<string, string> = {},
): Promise<ScratchDatabase> {
  const name = `artifactstore_scratch_${randomBytes(6).toString('hex')}`;
  await withAdmin(adminUrl, (admin) => admin.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const dataDir = await mkdtemp(join(tmpdir(), 'artifactstore-scratch-'));
  const config = loadConfig({
    ARTIFACTSTORE_DATA_DIR: dataDir,
    ARTIFACTSTORE_DATABASE_URL: url.toString(),
    ...overrides,
  });
  return {
    dialect: 'postgres',
    config,
    dispose: async () => {
      await withAdmin(adminUrl, (admin) => admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function withAdmin<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
