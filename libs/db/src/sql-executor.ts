import type BetterSqlite3 from 'better-sqlite3';
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
}

/** PostgreSQL: through the TypeORM query runner that holds the transaction's pooled connection. */
export class QueryRunnerExecutor implements SqlExecutor {
  /** Set when the connection must be closed rather than returned to the pool. */
  broken = false;

  constructor(private readonly runner: QueryRunner) {}

  /** PostgreSQL aborts a failed transaction but keeps it open until ROLLBACK; a lost connection fails that too. */
  inTransaction(): boolean {
    return !this.broken;
  }

  markBroken(): void {
    this.broken = true;
  }

  async query(sql: string, params: readonly unknown[]): Promise<Row[]> {
    const result = await this.runner.query(sql, [...params], true).catch((error: unknown) => {
      throw DatabaseError.from(error, sql);
    });
    return (result.records as Row[] | undefined) ?? [];
  }

  async run(sql: string, params: readonly unknown[]): Promise<number> {
    const result = await this.runner.query(sql, [...params], true).catch((error: unknown) => {
      throw DatabaseError.from(error, sql);
    });
    return result.affected ?? 0;
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
