import type BetterSqlite3 from 'better-sqlite3';
import type pg from 'pg';
import type { DataSource, QueryRunner } from 'typeorm';
import { DatabaseError } from './database.errors.js';
import type { Row } from './tx.js';

/** Runs one statement on one connection. Placeholders are already in the dialect's spelling. */
export interface SqlExecutor {
  query(sql: string, params: readonly unknown[]): Promise<Row[]> | Row[];
  run(sql: string, params: readonly unknown[]): Promise<number> | number;
  /** Whether a transaction may still be open on the connection, so that a failed unit of work must roll back. */
  inTransaction(): boolean;
  /** Records that the connection's state is unknown (a rollback failed): it must not be used again. */
  markBroken(): void;
  /**
   * Issues a write whose outcome the unit does not read. On PostgreSQL it is pipelined: written now, answered
   * later; a failure fails the next awaited statement and `settle`. SQLite runs it at once.
   */
  send(sql: string, params: readonly unknown[]): void;
  /** Waits for every statement sent; throws the first failure among them. */
  settle(): Promise<void> | void;
  /** Commits the transaction, or throws (it is then rolled back) when any of its statements failed. */
  commit(): Promise<void> | void;
}

/**
 * PostgreSQL: on the pooled connection that the transaction's TypeORM query runner holds, through node-postgres
 * itself. The pool's clients pipeline (`pipeline: true`): a statement is written as soon as it is issued, without
 * waiting for the answers to the ones before it, and the server runs them in order. `send` uses that for writes
 * whose outcome the unit does not read; their answers are collected before the next statement that is awaited.
 */
export class QueryRunnerExecutor implements SqlExecutor {
  /** Set when the connection must be closed rather than returned to the pool. */
  broken = false;
  private client: pg.ClientBase | undefined;
  /** Statements sent and not yet answered. */
  private readonly inFlight = new Set<Promise<unknown>>();
  /** The first failure of a sent statement: every later statement of the transaction fails because of it. */
  private failure: DatabaseError | undefined;

  constructor(private readonly runner: QueryRunner) {}

  /** Takes the runner's connection from the pool; call once, before the first statement. */
  async connect(): Promise<void> {
    try {
      this.client = (await this.runner.connect()) as pg.ClientBase;
    } catch (error) {
      throw DatabaseError.from(error, '(connect)');
    }
  }

  /** PostgreSQL aborts a failed transaction but keeps it open until ROLLBACK; a lost connection fails that too. */
  inTransaction(): boolean {
    return !this.broken;
  }

  markBroken(): void {
    this.broken = true;
  }

  async query(sql: string, params: readonly unknown[]): Promise<Row[]> {
    return (await this.statement(sql, params)).rows as Row[];
  }

  async run(sql: string, params: readonly unknown[]): Promise<number> {
    return (await this.statement(sql, params)).rowCount ?? 0;
  }

  send(sql: string, params: readonly unknown[]): void {
    const answer: Promise<unknown> = this.issue(sql, params).then(
      () => this.inFlight.delete(answer),
      (error: unknown) => {
        this.inFlight.delete(answer);
        this.failure ??= DatabaseError.from(error, sql);
      },
    );
    this.inFlight.add(answer);
  }

  async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
    if (this.failure) throw this.failure;
  }

  /**
   * COMMIT goes out behind the statements still in flight, in the same round trip. PostgreSQL answers the COMMIT
   * of a transaction that a failed statement aborted with ROLLBACK (no error), so the sent statements' failure is
   * the one reported, and a COMMIT that did not commit is never taken for one that did.
   */
  async commit(): Promise<void> {
    const committing = this.issue('COMMIT', []);
    committing.catch(() => undefined); // awaited below, after the statements ahead of it
    await this.settle();
    const result = await committing.catch((error: unknown) => {
      throw DatabaseError.from(error, 'COMMIT');
    });
    if (result.command !== 'COMMIT') {
      // A failed statement whose answer came in behind the others (one the unit never awaited) is the reason.
      if (this.failure) throw this.failure;
      throw new DatabaseError(
        `COMMIT answered ${result.command}: the transaction was rolled back`,
        'other',
        undefined,
      );
    }
  }

  /** Issues a statement now, behind those already sent, and waits for its answer. */
  private async statement(sql: string, params: readonly unknown[]): Promise<pg.QueryResult> {
    const answer = this.issue(sql, params);
    try {
      return await answer;
    } catch (error) {
      // The first failure of the transaction is the one to report: PostgreSQL answers everything after it with
      // "current transaction is aborted".
      this.failure ??= DatabaseError.from(error, sql);
      await this.settle();
      throw this.failure;
    }
  }

  private issue(sql: string, params: readonly unknown[]): Promise<pg.QueryResult> {
    if (!this.client) throw new Error('the connection was not taken from the pool');
    return this.client.query(sql, [...params]);
  }
}

const STATEMENT_CACHE_LIMIT = 500;

/**
 * SQLite: straight to the better-sqlite3 connection that TypeORM opened, with prepared statements cached per
 * connection. better-sqlite3 is synchronous; going through TypeORM's asynchronous query pipeline (logger,
 * subscribers' broadcasts, result wrapping) cost about three times the statement itself, and replay runs one
 * statement after another (ADR 0003).
 */
export class SqliteExecutor implements SqlExecutor {
  private readonly statements = new Map<string, BetterSqlite3.Statement>();

  constructor(private readonly connection: BetterSqlite3.Database) {}

  /** SQLite ends the transaction itself after some errors (SQLITE_FULL at COMMIT): then there is none to end. */
  inTransaction(): boolean {
    return this.connection.inTransaction;
  }

  /** Nothing to mark: the next write ends a transaction a failed ROLLBACK left open before it begins. */
  markBroken(): void {}

  static of(dataSource: DataSource): SqliteExecutor {
    return new SqliteExecutor(sqliteConnection(dataSource));
  }

  query(sql: string, params: readonly unknown[]): Row[] {
    try {
      const statement = this.prepare(sql);
      const bound = bind(params);
      if (statement.reader) return statement.all(...bound) as Row[];
      statement.run(...bound);
      return [];
    } catch (error) {
      throw DatabaseError.from(error, sql);
    }
  }

  send(sql: string, params: readonly unknown[]): void {
    this.run(sql, params);
  }

  settle(): void {}

  commit(): void {
    this.run('COMMIT', []);
  }

  run(sql: string, params: readonly unknown[]): number {
    try {
      const statement = this.prepare(sql);
      const bound = bind(params);
      if (statement.reader) {
        statement.all(...bound);
        return 0;
      }
      return statement.run(...bound).changes;
    } catch (error) {
      throw DatabaseError.from(error, sql);
    }
  }

  private prepare(sql: string): BetterSqlite3.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.connection.prepare(sql);
      if (this.statements.size >= STATEMENT_CACHE_LIMIT) this.statements.clear();
      this.statements.set(sql, statement);
    }
    return statement;
  }
}

/** The better-sqlite3 connection TypeORM opened for a SQLite DataSource. */
export function sqliteConnection(dataSource: DataSource): BetterSqlite3.Database {
  const driver = dataSource.driver as unknown as { databaseConnection?: BetterSqlite3.Database };
  if (!driver.databaseConnection) throw new Error('the SQLite DataSource is not connected');
  return driver.databaseConnection;
}

/** better-sqlite3 binds no booleans; everything else artifactstore passes binds as is. */
function bind(params: readonly unknown[]): unknown[] {
  return params.map((param) => (typeof param === 'boolean' ? (param ? 1 : 0) : param));
}
