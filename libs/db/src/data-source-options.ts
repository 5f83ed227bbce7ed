import type { AppConfig } from '@artifactstore/config';
import type { DataSourceOptions } from 'typeorm';
import pg from 'pg';
import { MIGRATIONS } from './migrations/index.js';

/**
 * node-postgres' Client with an 'error' listener from its first moment to its last. A connection the server ends
 * (a restart, 57P01) can emit 'error' more than once; TypeORM listens while a query runner holds the client and
 * lets go when it releases it, which it does at the first error, so a second one would have no listener and crash
 * the process. The failure still reaches whoever was using the connection, through its query.
 *
 * It pipelines (ADR 0017): statements issued before the answers to earlier ones are written at once.
 */
class ListeningClient extends pg.Client {
  constructor(config?: string | pg.ClientConfig) {
    super({ ...(typeof config === 'string' ? { connectionString: config } : config), pipeline: true });
    this.on('error', () => undefined);
  }
}

/**
 * How long a SQLite write waits for another process's write lock before it fails as `unavailable`. SQLite's own
 * busy handler sleeps on the calling thread, which here is the event loop: it is used only while migrating, and
 * for a unit of work Database retries BEGIN IMMEDIATE with timers instead (a busy writer connection gives up at
 * once). A reader in WAL mode is blocked only by a checkpoint that resets the log or by recovery, briefly.
 */
export const SQLITE_BUSY_TIMEOUT_MS = 10_000;
const SQLITE_READER_BUSY_TIMEOUT_MS = 200;

/**
 * How long a PostgreSQL unit of work waits for a pooled connection (a new one to connect, or a busy pool to free
 * one) before it fails as `unavailable`, instead of holding its request forever while the server is down.
 */
const POSTGRES_CONNECT_TIMEOUT_MS = 10_000;

/** Page cache per SQLite connection, in KiB. */
const SQLITE_CACHE_KIB = 65_536;

/**
 * The TypeORM DataSource options for the configured database. `role: 'reader'` opens a second, read-only SQLite
 * connection, so that reads never see the writer's open transaction (see Database).
 */
export function dataSourceOptions(
  config: AppConfig,
  role: 'writer' | 'reader' = 'writer',
): DataSourceOptions {
  const common = {
    migrations: MIGRATIONS,
    migrationsTableName: 'schema_migrations',
    migrationsTransactionMode: 'all' as const,
    synchronize: false,
    logging: false,
  };
  const target = config.database;
  switch (target.dialect) {
    case 'postgres':
      return {
        ...common,
        type: 'postgres',
        url: target.url,
        poolSize: config.databasePoolSize,
        connectTimeoutMS: POSTGRES_CONNECT_TIMEOUT_MS,
        applicationName: 'artifactstore',
        extra: { Client: ListeningClient },
      };
    case 'sqlite':
      return {
        ...common,
        type: 'better-sqlite3',
        database: target.path,
        readonly: role === 'reader',
        timeout: role === 'reader' ? SQLITE_READER_BUSY_TIMEOUT_MS : SQLITE_BUSY_TIMEOUT_MS,
        enableWAL: role === 'writer',
        prepareDatabase: (db: { pragma(source: string): unknown }) => {
          db.pragma(`synchronous = ${config.sqliteSynchronous === 'full' ? 'FULL' : 'NORMAL'}`);
          db.pragma('foreign_keys = ON');
          // 64 MiB of page cache instead of SQLite's 2 MiB default: replay and large packages touch the views'
          // indexes at random (UUID keys), and a cache smaller than the indexes turned replay into page reads.
          db.pragma(`cache_size = -${SQLITE_CACHE_KIB}`);
        },
      };
  }
}
