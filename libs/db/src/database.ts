import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '@artifactstore/config';
import { DataSource, type QueryRunner } from 'typeorm';
import { Mutex, Semaphore } from './async-mutex.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { dataSourceOptions, SQLITE_BUSY_TIMEOUT_MS } from './data-source-options.js';
import { DatabaseError } from './database.errors.js';
import { QueryRunnerExecutor, SqliteExecutor, sqliteConnection, type SqlExecutor } from './sql-executor.js';
import { type Dialect, Tx } from './tx.js';

/** How busy the connections are, for metrics. */
export interface ConnectionStats {
  /** Connections there may be: the PostgreSQL pool size, or SQLite's writer and reader. */
  readonly max: number;
  /** Connections running a unit of work now. */
  readonly inUse: number;
  /** Units of work waiting for a connection. */
  readonly waiting: number;
  /**
   * Units of work that failed since the process started because the database could not be reached or used
   * (`unavailable`) or was out of space (`storage_full`).
   */
  readonly failures: Readonly<Record<'unavailable' | 'storage_full', number>>;
}

/** The part of pg's Pool that TypeORM's PostgreSQL driver keeps (as `master`) and that we read. */
interface PgPoolCounts {
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
}

/**
 * The database, as units of work. `write` runs one read-write transaction and is the only way to change data;
 * `read` runs a consistent, read-only snapshot that never sees another unit's uncommitted rows.
 *
 * SQLite: one writer connection, every write serialized by a mutex and opened with BEGIN IMMEDIATE (so another
 * process's writer queues on the busy timeout instead of failing on a lock upgrade); reads go to a second,
 * read-only connection, serialized among themselves because a connection has one transaction at a time.
 * PostgreSQL: a pooled connection per unit of work; reads are REPEATABLE READ READ ONLY.
 */
@Injectable()
export class Database implements OnApplicationShutdown {
  private readonly logger = new Logger('Database');
  private readonly writeLock = new Mutex();
  private readonly readLock = new Mutex();
  /**
   * PostgreSQL: write units that may wait for the append lock (behind a long replay) must not take every pooled
   * connection, or reads, tails and health checks would wait too. Two connections stay free for them.
   */
  private readonly postgresWriteSlots: Semaphore;
  private closed = false;
  private readonly failures = { unavailable: 0, storage_full: 0 };
  private reader: DataSource | undefined;
  private readerExecutor: SqliteExecutor | undefined;
  private writerExecutor: SqliteExecutor | undefined;

  private constructor(
    readonly dialect: Dialect,
    private readonly writer: DataSource,
    private readonly config: AppConfig,
  ) {
    this.postgresWriteSlots = new Semaphore(Math.max(1, config.databasePoolSize - 2));
  }

  /** Connects, and applies pending migrations when ARTIFACTSTORE_MIGRATE_ON_START says so. */
  static async open(config: AppConfig, options: { migrate?: boolean } = {}): Promise<Database> {
    if (config.database.dialect === 'sqlite') mkdirSync(dirname(config.database.path), { recursive: true });
    const writer = new DataSource(dataSourceOptions(config, 'writer'));
    await writer.initialize();
    const database = new Database(config.database.dialect, writer, config);
    try {
      if (options.migrate ?? config.migrateOnStart) await database.migrate();
      database.setWriterBusyTimeout(0);
    } catch (error) {
      await database.close();
      throw error;
    }
    return database;
  }

  /** Applies pending migrations; returns their names. */
  async migrate(): Promise<string[]> {
    return this.writeLock.runExclusive(async () => {
      // TypeORM's migration runner opens its own transactions: SQLite's busy handler waits for other writers.
      this.setWriterBusyTimeout(SQLITE_BUSY_TIMEOUT_MS);
      try {
        const applied = await this.writer.runMigrations({ transaction: 'all' });
        for (const migration of applied) this.logger.log(`applied migration ${migration.name}`);
        return applied.map((migration) => migration.name);
      } finally {
        this.setWriterBusyTimeout(0);
      }
    });
  }

  /** Drops every table of the database, then migrates again. Destroys all data: for development and tests. */
  async migrateFresh(): Promise<string[]> {
    await this.writeLock.runExclusive(() =>
      this.readLock.runExclusive(async () => {
        await this.closeReader();
        this.writerExecutor = undefined; // dropping tables invalidates prepared statements
        await this.writer.dropDatabase();
      }),
    );
    return this.migrate();
  }

  /** Runs `work` in one read-write transaction; commits if it resolves, rolls back if it throws. */
  async write<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.counted(() => {
      this.assertOpen();
      if (this.dialect === 'sqlite') {
        return this.writeLock.runExclusive(() => {
          const executor = (this.writerExecutor ??= SqliteExecutor.of(this.writer));
          return this.inTransaction(executor, () => beginImmediate(executor), work);
        });
      }
      return this.postgresWriteSlots.run(() =>
        this.onPooledConnection('START TRANSACTION ISOLATION LEVEL READ COMMITTED', work),
      );
    });
  }

  /** Runs `work` in a read-only snapshot of committed data. */
  async read<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.counted(() => {
      this.assertOpen();
      if (this.dialect === 'sqlite') {
        return this.readLock.runExclusive(async () =>
          this.inTransaction(await this.openReader(), 'BEGIN DEFERRED', work),
        );
      }
      return this.onPooledConnection('START TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY', work);
    });
  }

  /**
   * Runs `work` while this process holds the cluster-wide lock `key`, or returns `{ ran: false }` at once when
   * another session holds it. PostgreSQL: a session advisory lock (`pg_try_advisory_lock`) on a connection of its
   * own, held for the whole of `work` however many units of work it runs. SQLite serves one host, where the
   * caller's own in-process exclusion suffices: `work` just runs.
   */
  async exclusively<T>(
    key: number,
    work: () => Promise<T>,
  ): Promise<{ ran: true; value: T } | { ran: false }> {
    this.assertOpen();
    if (this.dialect === 'sqlite') return { ran: true, value: await work() };
    const runner = this.writer.createQueryRunner();
    const executor = new QueryRunnerExecutor(runner);
    try {
      await executor.connect();
      const [row] = await executor.query(`SELECT pg_try_advisory_lock(${Math.trunc(key)}) AS locked`, []);
      if (row?.locked !== true) return { ran: false };
      try {
        return { ran: true, value: await work() };
      } finally {
        await executor.query(`SELECT pg_advisory_unlock(${Math.trunc(key)})`, []).catch(() => {
          executor.markBroken(); // the pool then closes the connection, and the lock goes with the session
        });
      }
    } finally {
      await releaseRunner(runner, executor.broken);
    }
  }

  /** A snapshot of connection use: PostgreSQL's pool as pg counts it, or SQLite's two connections' locks. */
  connectionStats(): ConnectionStats {
    if (this.dialect === 'sqlite') {
      return {
        max: 2,
        inUse: Number(this.writeLock.locked) + Number(this.readLock.locked),
        waiting: this.writeLock.queued + this.readLock.queued,
        failures: { ...this.failures },
      };
    }
    const pool = (this.writer.driver as { master?: Partial<PgPoolCounts> }).master;
    const total = pool?.totalCount ?? 0;
    return {
      max: this.config.databasePoolSize,
      inUse: Math.max(0, total - (pool?.idleCount ?? 0)),
      waiting: (pool?.waitingCount ?? 0) + this.postgresWriteSlots.queued,
      failures: { ...this.failures },
    };
  }

  /** Closes the connections. Units of work started afterwards fail instead of reconnecting. */
  async close(): Promise<void> {
    this.closed = true;
    await this.closeReader();
    this.writerExecutor = undefined;
    if (this.writer.isInitialized) await this.writer.destroy();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }

  /** SQLite: how long the writer connection's own busy handler waits (it blocks the event loop while it does). */
  private setWriterBusyTimeout(ms: number): void {
    if (this.dialect === 'sqlite') sqliteConnection(this.writer).pragma(`busy_timeout = ${ms}`);
  }

  /** Counts a unit of work that failed for want of a usable database, for metrics. */
  private async counted<T>(unit: () => Promise<T>): Promise<T> {
    try {
      return await unit();
    } catch (error) {
      if (error instanceof DatabaseError && (error.kind === 'unavailable' || error.kind === 'storage_full')) {
        this.failures[error.kind] += 1;
      }
      throw error;
    }
  }

  /**
   * PostgreSQL: one transaction on a connection borrowed from the pool for its duration. A connection whose
   * transaction could not be ended cleanly goes back with the error, so the pool closes it instead of lending it
   * out again in an unknown state.
   */
  private async onPooledConnection<T>(begin: string, work: (tx: Tx) => Promise<T>): Promise<T> {
    const runner = this.writer.createQueryRunner();
    const executor = new QueryRunnerExecutor(runner);
    try {
      await executor.connect();
      return await this.inTransaction(executor, begin, work);
    } finally {
      await releaseRunner(runner, executor.broken);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new DatabaseError('the database is closed', 'unavailable', undefined);
  }

  private async inTransaction<T>(
    executor: SqlExecutor,
    begin: string | (() => Promise<void>),
    work: (tx: Tx) => Promise<T>,
  ): Promise<T> {
    const tx = new Tx(this.dialect, executor);
    if (typeof begin === 'string') await executor.run(begin, []);
    else await begin();
    let result: T;
    try {
      result = await work(tx);
      await tx.runChecks();
      await executor.commit();
    } catch (error) {
      await this.rollBack(executor, error);
      throw error;
    } finally {
      tx.end();
    }
    tx.runCommitHooks();
    return result;
  }

  /**
   * Ends a failed transaction. SQLite has already rolled back by itself after some errors (SQLITE_FULL at
   * COMMIT, for one), and a lost PostgreSQL connection has no transaction left to end: neither is a second error.
   */
  private async rollBack(executor: SqlExecutor, cause: unknown): Promise<void> {
    if (!executor.inTransaction()) return;
    try {
      await executor.run('ROLLBACK', []);
    } catch (rollbackError) {
      executor.markBroken();
      const lost = cause instanceof DatabaseError && cause.kind === 'unavailable';
      if (!lost) this.logger.error(`rollback failed: ${String(rollbackError)}`);
    }
  }

  private async openReader(): Promise<SqliteExecutor> {
    if (this.readerExecutor === undefined) {
      const reader = new DataSource(dataSourceOptions(this.config, 'reader'));
      await reader.initialize().catch((error: unknown) => {
        throw DatabaseError.from(error, '(open the reader)');
      });
      this.reader = reader;
      this.readerExecutor = SqliteExecutor.of(reader);
    }
    return this.readerExecutor;
  }

  private async closeReader(): Promise<void> {
    const reader = this.reader;
    this.reader = undefined;
    this.readerExecutor = undefined;
    if (reader?.isInitialized) await reader.destroy();
  }
}

/** The part of TypeORM's PostgresQueryRunner that can hand a connection back with an error (pg-pool drops it). */
interface ReleasableWithError {
  releasePostgresConnection(error?: Error): Promise<void>;
}

async function releaseRunner(runner: QueryRunner, broken: boolean): Promise<void> {
  const withError = runner as unknown as Partial<ReleasableWithError>;
  if (broken && typeof withError.releasePostgresConnection === 'function') {
    await withError.releasePostgresConnection(new Error('the transaction could not be ended'));
  } else {
    await runner.release();
  }
}

/**
 * SQLite: takes the write lock, waiting for another process that holds it on timers rather than in SQLite's busy
 * handler (which would stop the event loop: health checks and reads included) for up to SQLITE_BUSY_TIMEOUT_MS;
 * then SQLITE_BUSY, a DatabaseError of kind `unavailable`.
 */
async function beginImmediate(executor: SqliteExecutor): Promise<void> {
  // A transaction a failed ROLLBACK left open would refuse every BEGIN from now on: end it first.
  if (executor.inTransaction()) executor.run('ROLLBACK', []);
  const deadline = Date.now() + SQLITE_BUSY_TIMEOUT_MS;
  for (let pauseMs = 1; ; pauseMs = Math.min(pauseMs * 2, 50)) {
    try {
      executor.run('BEGIN IMMEDIATE', []);
      return;
    } catch (error) {
      const busy = error instanceof DatabaseError && error.driverCode?.startsWith('SQLITE_BUSY') === true;
      if (!busy || Date.now() >= deadline) throw error;
    }
    await sleep(pauseMs);
  }
}
