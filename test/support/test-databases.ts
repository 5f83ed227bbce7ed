import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { loadConfig, type AppConfig } from '@artifactstore/config';

/** A throwaway database of one dialect: its own SQLite file and data folder, or its own PostgreSQL database. */
export interface TestDatabase {
  readonly dialect: 'sqlite' | 'postgres';
  readonly config: AppConfig;
  dispose(): Promise<void>;
}

export interface DialectUnderTest {
  readonly dialect: 'sqlite' | 'postgres';
  create(overrides?: Record<string, string>): Promise<TestDatabase>;
}

const PG_URL = process.env.ARTIFACTSTORE_TEST_PG_URL;

async function createSqlite(overrides: Record<string, string> = {}): Promise<TestDatabase> {
  const dataDir = await mkdtemp(join(tmpdir(), 'artifactstore-test-'));
  const config = loadConfig({ ARTIFACTSTORE_DATA_DIR: dataDir, ...overrides });
  return { dialect: 'sqlite', config, dispose: () => rm(dataDir, { recursive: true, force: true }) };
}

async function createPostgres(
  adminUrl: string,
  overrides: Record<string, string> = {},
): Promise<TestDatabase> {
  const name = `artifactstore_test_${randomBytes(6).toString('hex')}`;
  await withAdmin(adminUrl, (admin) => admin.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const dataDir = await mkdtemp(join(tmpdir(), 'artifactstore-test-'));
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

/**
 * The dialects every integration test runs on: SQLite always, PostgreSQL when ARTIFACTSTORE_TEST_PG_URL is set.
 * CI (CI=true) must have PostgreSQL; a developer without it is told so, loudly, once per test file.
 */
export function dialectsUnderTest(): DialectUnderTest[] {
  const dialects: DialectUnderTest[] = [{ dialect: 'sqlite', create: createSqlite }];
  if (PG_URL) {
    dialects.push({ dialect: 'postgres', create: (overrides) => createPostgres(PG_URL, overrides) });
  } else if (process.env.CI) {
    throw new Error('CI must run the PostgreSQL tests: set ARTIFACTSTORE_TEST_PG_URL');
  } else {
    console.warn(
      'PostgreSQL tests NOT RUN in this file: set ARTIFACTSTORE_TEST_PG_URL=postgres://… to run them.',
    );
  }
  return dialects;
}
