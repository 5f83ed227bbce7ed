import type { SqlExecutor } from './sql-executor.js';

export type Dialect = 'sqlite' | 'postgres';

/** Row objects as the driver returns them; map them with the helpers in row-values.ts. */
export type Row = Record<string, unknown>;

const placeholderCache = new Map<string, string>();

/**
 * SQL in this code base is written once with `?` placeholders; PostgreSQL wants `$1, $2, …`. The SQL texts are
 * constants, so each is rewritten once and cached.
 */
export function dialectSql(sql: string, dialect: Dialect): string {
  if (dialect === 'sqlite') return sql;
  let rewritten = placeholderCache.get(sql);
  if (rewritten === undefined) {
    let index = 0;
    rewritten = sql.replace(/\?/g, () => `$${++index}`);
    placeholderCache.set(sql, rewritten);
  }
  return rewritten;
}

/**
 * One open transaction, read-write (from `Database.write`) or a read-only snapshot (from `Database.read`).
 * Functions that write take a `Tx` as their first parameter: pass it on, or the write escapes the transaction.
 */
export class Tx {
  private readonly commitHooks: (() => void)[] = [];

  constructor(
    readonly dialect: Dialect,
    private readonly executor: SqlExecutor,
  ) {}

  /** Runs a statement and returns its rows (SELECT, or anything with RETURNING). */
  async query<T extends Row = Row>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    return (await this.executor.query(dialectSql(sql, this.dialect), params)) as T[];
  }

  /** Runs a statement for its effect and returns the number of rows it touched. */
  async run(sql: string, params: readonly unknown[] = []): Promise<number> {
    return this.executor.run(dialectSql(sql, this.dialect), params);
  }

  /**
   * Calls `hook` once the transaction has committed (never if it rolls back). For wake-ups only (a tail that
   * should look again); anything with an effect must be driven by the log itself.
   */
  afterCommit(hook: () => void): void {
    this.commitHooks.push(hook);
  }

  /** @internal Called by Database after COMMIT. */
  runCommitHooks(): void {
    for (const hook of this.commitHooks.splice(0)) hook();
  }
}
