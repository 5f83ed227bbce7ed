import type { QueryRunner } from 'typeorm';

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
    private readonly runner: QueryRunner,
  ) {}

  /** Runs a statement and returns its rows (SELECT, or anything with RETURNING). */
  async query<T extends Row = Row>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    const result = await this.runner.query(dialectSql(sql, this.dialect), [...params], true);
    return (result.records as T[] | undefined) ?? [];
  }

  /** Runs a statement for its effect and returns the number of rows it touched. */
  async run(sql: string, params: readonly unknown[] = []): Promise<number> {
    const result = await this.runner.query(dialectSql(sql, this.dialect), [...params], true);
    return result.affected ?? 0;
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
