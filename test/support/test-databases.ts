import { createScratchPostgres, createScratchSqlite, type ScratchDatabase } from './scratch-database.js';

/** A throwaway database of one dialect for one test file (or one test). */
export type TestDatabase = ScratchDatabase;

export interface DialectUnderTest {
  readonly dialect: 'sqlite' | 'postgres';
  create(overrides?: Record<string, string>): Promise<TestDatabase>;
}

/**
 * The dialects every integration test runs on: SQLite always, PostgreSQL when ARTIFACTSTORE_TEST_PG_URL is set.
 * CI (CI=true) must have PostgreSQL; a developer without it is told so, loudly, once per test file.
 */
export function dialectsUnderTest(): DialectUnderTest[] {
  const pgUrl = process.env.ARTIFACTSTORE_TEST_PG_URL;
  const dialects: DialectUnderTest[] = [{ dialect: 'sqlite', create: createScratchSqlite }];
  if (pgUrl) {
    dialects.push({ dialect: 'postgres', create: (overrides) => createScratchPostgres(pgUrl, overrides) });
  } else if (process.env.CI) {
    throw new Error('CI must run the PostgreSQL tests: set ARTIFACTSTORE_TEST_PG_URL');
  } else {
    console.warn(
      'PostgreSQL tests NOT RUN in this file: set ARTIFACTSTORE_TEST_PG_URL=postgres://… to run them.',
    );
  }
  return dialects;
}
