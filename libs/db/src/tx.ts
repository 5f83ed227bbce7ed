import type { SqlExecutor } from './sql-executor.js';

export type Dialect = 'sqlite' | 'postgres';

/** Row objects as the driver returns them; map them with the helpers in row-values.ts. */
export type Row = Record<string, unknown>;

/** Rewritten SQL texts by source text; the texts are constants, so this stays small, but it is bounded anyway. */
const placeholderCache = new Map<string, string>();
const PLACEHOLDER_CACHE_LIMIT = 1_000;

/**
 * SQL in this code base is written once with `?` placeholders; PostgreSQL wants `$1, $2, …`. A `?` inside a
 * string literal, a quoted identifier, a dollar-quoted string or a comment is left alone, and `??` stands for
 * PostgreSQL's own `?` operator (jsonb key exists), which SQLite does not have. Each text is rewritten once.
 */
export function dialectSql(sql: string, dialect: Dialect): string {
  if (dialect === 'sqlite') return sql;
  let rewritten = placeholderCache.get(sql);
  if (rewritten === undefined) {
    rewritten = numberPlaceholders(sql);
    if (placeholderCache.size >= PLACEHOLDER_CACHE_LIMIT) placeholderCache.clear();
    placeholderCache.set(sql, rewritten);
  }
  return rewritten;
}

function numberPlaceholders(sql: string): string {
  let out = '';
  let index = 0;
  let at = 0;
  while (at < sql.length) {
    const char = sql[at] ?? '';
    const next = sql[at + 1] ?? '';
    let end: number;
    if (char === "'" || char === '"') end = closing(sql, at + 1, char);
    else if (char === '-' && next === '-') end = closingLine(sql, at);
    else if (char === '/' && next === '*') end = closingComment(sql, at);
    else if (char === '$' && dollarTagAt(sql, at) !== undefined) end = closingDollar(sql, at);
    else if (char === '?' && next === '?') {
      out += '?';
      at += 2;
      continue;
    } else if (char === '?') {
      out += `$${++index}`;
      at += 1;
      continue;
    } else end = at + 1;
    out += sql.slice(at, end);
    at = end;
  }
  return out;
}

/** The index after a quoted token that opened before `from`; a doubled quote is an escaped one. */
function closing(sql: string, from: number, quote: string): number {
  let at = from;
  for (;;) {
    const found = sql.indexOf(quote, at);
    if (found === -1) return sql.length;
    if (sql[found + 1] !== quote) return found + 1;
    at = found + 2;
  }
}

function closingLine(sql: string, from: number): number {
  const found = sql.indexOf('\n', from);
  return found === -1 ? sql.length : found + 1;
}

function closingComment(sql: string, from: number): number {
  const found = sql.indexOf('*/', from + 2);
  return found === -1 ? sql.length : found + 2;
}

const DOLLAR_TAG = /\$[A-Za-z_]*\$/y;

/** The dollar-quote tag (`$$`, `$body$`) that starts at `at`, if one does. */
function dollarTagAt(sql: string, at: number): string | undefined {
  DOLLAR_TAG.lastIndex = at;
  return DOLLAR_TAG.exec(sql)?.[0];
}

function closingDollar(sql: string, from: number): number {
  const tag = dollarTagAt(sql, from) ?? '$$';
  const found = sql.indexOf(tag, from + tag.length);
  return found === -1 ? sql.length : found + tag.length;
}

/**
 * One open transaction, read-write (from `Database.write`) or a read-only snapshot (from `Database.read`).
 * Functions that write take a `Tx` as their first parameter: pass it on, or the write escapes the transaction.
 */
export class Tx {
  private readonly commitHooks: (() => void)[] = [];
  private readonly checks: (() => Promise<void>)[] = [];
  private ended = false;

  constructor(
    readonly dialect: Dialect,
    private readonly executor: SqlExecutor,
  ) {}

  /** Runs a statement and returns its rows (SELECT, or anything with RETURNING). */
  async query<T extends Row = Row>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    this.assertOpen();
    return (await this.executor.query(dialectSql(sql, this.dialect), params)) as T[];
  }

  /** Runs a statement for its effect and returns the number of rows it touched. */
  async run(sql: string, params: readonly unknown[] = []): Promise<number> {
    this.assertOpen();
    return this.executor.run(dialectSql(sql, this.dialect), params);
  }

  /**
   * Issues a write whose outcome the unit does not read (no rows, no count). On PostgreSQL it is pipelined: sent
   * at once behind the statements before it, without waiting for its answer, so a unit's writes cost one round
   * trip between them rather than one each. Its failure fails the next statement the unit awaits, and the commit.
   * SQLite runs it at once.
   */
  send(sql: string, params: readonly unknown[] = []): void {
    this.assertOpen();
    this.executor.send(dialectSql(sql, this.dialect), params);
  }

  /**
   * Calls `hook` once the transaction has committed (never if it rolls back). For wake-ups only (a tail that
   * should look again); anything with an effect must be driven by the log itself.
   */
  afterCommit(hook: () => void): void {
    this.commitHooks.push(hook);
  }

  /**
   * Runs `check` after the unit's work and before COMMIT, in the transaction, in the order registered: for what a
   * unit sent early and must still confirm (its answer has usually arrived by then). A throw rolls the unit back.
   */
  beforeCommit(check: () => Promise<void>): void {
    this.checks.push(check);
  }

  /**
   * @internal Called by Database once the transaction has committed or rolled back: a statement issued through
   * this Tx afterwards (a query the unit left running past its end) fails instead of running on the connection,
   * outside the transaction or inside another unit's.
   */
  end(): void {
    this.ended = true;
  }

  private assertOpen(): void {
    if (this.ended) throw new Error('this unit of work has ended: its Tx takes no more statements');
  }

  /** @internal Called by Database after the unit's work, before COMMIT. */
  async runChecks(): Promise<void> {
    for (const check of this.checks.splice(0)) await check();
  }

  /** @internal Called by Database after COMMIT. */
  runCommitHooks(): void {
    for (const hook of this.commitHooks.splice(0)) hook();
  }
}
