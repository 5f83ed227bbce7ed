import { asNumber, type Row, type Tx } from '@artifactstore/db';
import { ProjectionError } from './view-handler.js';
import { VIEW_TABLES, type ViewTable } from './view-tables.js';

export type ViewTableName =
  'artifact_packages' | 'artifact_files' | 'storage_locations' | 'retention_state' | 'tags';

/** A view row as a handler writes it: one value per column of the table (see VIEW_TABLES). */
export type ViewRow = Readonly<Record<string, string | number | null>>;

/**
 * What a view handler may do to the views: insert a row, update a row by its key, read a row by its key. The
 * direct path runs each call as one statement; replay batches inserts into multi-row statements. Handlers are
 * written once against this interface, so both paths run the very same projection code.
 */
export interface ViewStore {
  insert(table: ViewTableName, row: ViewRow): Promise<void>;
  /**
   * Sets `changes` on the row whose key is `key`, if that row exists and matches every column of `expected`.
   * Returns whether a row was updated.
   */
  update(table: ViewTableName, key: string, changes: ViewRow, expected?: ViewRow): Promise<boolean>;
  /** The row whose key is `key`, or undefined. */
  get(table: ViewTableName, key: string): Promise<Row | undefined>;
  /** Deletes every row that matches each column of `match` (at least one column); returns how many. */
  deleteWhere(table: ViewTableName, match: ViewRow): Promise<number>;
}

const TABLES = new Map<string, ViewTable>(VIEW_TABLES.map((table) => [table.name, table]));

function tableOf(name: ViewTableName): ViewTable {
  const table = TABLES.get(name);
  if (!table) throw new Error(`unknown view table ${name}`);
  return table;
}

/** The key column of a handler's table: handlers address rows by one text key. */
function keyOf(table: ViewTable): string {
  const [key, ...more] = table.key;
  if (key === undefined || more.length > 0) throw new Error(`${table.name} has no single-column key`);
  return key;
}

function valuesOf(table: ViewTable, row: ViewRow): (string | number | null)[] {
  return table.columns.map((column) => {
    const value = row[column.name];
    if (value === undefined) throw new ProjectionError(`${table.name}.${column.name} missing from the row`);
    return value;
  });
}

/**
 * Both stores must agree on every update: columns must exist, and `expected` may not hold null (SQL's `= NULL`
 * never matches, while memory's `=== null` would).
 */
function checkUpdate(table: ViewTable, changes: ViewRow, expected: ViewRow): void {
  for (const column of [...Object.keys(changes), ...Object.keys(expected)]) {
    if (!table.columns.some((known) => known.name === column)) {
      throw new ProjectionError(`${table.name} has no column ${column}`);
    }
  }
  if (Object.values(expected).some((value) => value === null)) {
    throw new ProjectionError(`${table.name}: an expected value may not be null`);
  }
}

function checkMatch(table: ViewTable, match: ViewRow): void {
  if (Object.keys(match).length === 0)
    throw new ProjectionError(`${table.name}: a delete must match a column`);
  checkUpdate(table, {}, match);
}

function updateSql(table: ViewTable, changes: ViewRow, expected: ViewRow): string {
  const set = Object.keys(changes).map((column) => `${column} = ?`);
  const where = [keyOf(table), ...Object.keys(expected)].map((column) => `${column} = ?`);
  return `UPDATE ${table.name} SET ${set.join(', ')} WHERE ${where.join(' AND ')}`;
}

/** The direct path: every call is one statement in the caller's transaction. */
export class ImmediateViewStore implements ViewStore {
  constructor(private readonly tx: Tx) {}

  insert(name: ViewTableName, row: ViewRow): Promise<void> {
    // Nothing to read back: sent pipelined (a failure fails the unit's next awaited statement, or its commit). A
    // throw inside the executor becomes a rejection, as an awaited statement's would.
    return new Promise((resolve) => {
      const table = tableOf(name);
      this.tx.send(insertSql(table, 1), valuesOf(table, row));
      resolve();
    });
  }

  async update(name: ViewTableName, key: string, changes: ViewRow, expected: ViewRow = {}): Promise<boolean> {
    const table = tableOf(name);
    checkUpdate(table, changes, expected);
    const params = [...Object.values(changes), key, ...Object.values(expected)];
    return (await this.tx.run(updateSql(table, changes, expected), params)) === 1;
  }

  async get(name: ViewTableName, key: string): Promise<Row | undefined> {
    const table = tableOf(name);
    const [row] = await this.tx.query(`SELECT * FROM ${table.name} WHERE ${keyOf(table)} = ?`, [key]);
    return row;
  }

  async deleteWhere(name: ViewTableName, match: ViewRow): Promise<number> {
    const table = tableOf(name);
    checkMatch(table, match);
    const where = Object.keys(match).map((column) => `${column} = ?`);
    return this.tx.run(`DELETE FROM ${table.name} WHERE ${where.join(' AND ')}`, Object.values(match));
  }
}

/**
 * Rows per INSERT at flush. PostgreSQL: many, since each statement is a round trip (replay ran 6× faster with
 * 500-row statements than row by row), within its 65,535 parameters. SQLite: one — a prepared single-row INSERT
 * is in-process and measured faster than multi-row VALUES lists (23k vs 15k events/s replayed).
 */
const ROWS_PER_INSERT = { postgres: 500, sqlite: 1 } as const;
const MAX_PARAMETERS = 60_000;

/**
 * Replay's store: inserts wait in memory and go out at `flush()` (parents before children, in VIEW_TABLES order,
 * as multi-row INSERTs on PostgreSQL); updates and reads of a row still waiting are served from memory, others go to the
 * database, where every earlier row already is. After `flush()` the views are exactly as if each call had run
 * on its own, which the replay tests check against the direct path with the state digest.
 */
export class BatchingViewStore implements ViewStore {
  private readonly pending = new Map<string, Map<string, Record<string, string | number | null>>>();

  constructor(private readonly tx: Tx) {}

  insert(name: ViewTableName, row: ViewRow): Promise<void> {
    // A throw inside the executor becomes a rejection, like the immediate store's.
    return new Promise((resolve) => {
      this.hold(name, row);
      resolve();
    });
  }

  async update(name: ViewTableName, key: string, changes: ViewRow, expected: ViewRow = {}): Promise<boolean> {
    checkUpdate(tableOf(name), changes, expected);
    const row = this.pending.get(name)?.get(key);
    if (!row) return new ImmediateViewStore(this.tx).update(name, key, changes, expected);
    if (Object.entries(expected).some(([column, value]) => row[column] !== value)) return false;
    Object.assign(row, changes);
    return true;
  }

  async get(name: ViewTableName, key: string): Promise<Row | undefined> {
    const row = this.pending.get(name)?.get(key);
    return row ? { ...row } : new ImmediateViewStore(this.tx).get(name, key);
  }

  async deleteWhere(name: ViewTableName, match: ViewRow): Promise<number> {
    const table = tableOf(name);
    checkMatch(table, match);
    let deleted = 0;
    const rows = this.pending.get(name);
    for (const [key, row] of rows ?? []) {
      if (Object.entries(match).every(([column, value]) => row[column] === value)) {
        rows?.delete(key);
        deleted++;
      }
    }
    return deleted + (await new ImmediateViewStore(this.tx).deleteWhere(name, match));
  }

  private hold(name: ViewTableName, row: ViewRow): void {
    const table = tableOf(name);
    const key = row[keyOf(table)];
    if (typeof key !== 'string') throw new ProjectionError(`${table.name}.${keyOf(table)} must be text`);
    let rows = this.pending.get(name);
    if (!rows) this.pending.set(name, (rows = new Map<string, Record<string, string | number | null>>()));
    if (rows.has(key)) throw new ProjectionError(`${table.name}: duplicate key ${key}`);
    valuesOf(table, row); // refuse an incomplete row now, not at flush
    rows.set(key, { ...row });
  }

  /** Writes every waiting row (sent pipelined, ADR 0017). Call it before the transaction commits. */
  flush(): void {
    for (const table of VIEW_TABLES) {
      const rows = [...(this.pending.get(table.name)?.values() ?? [])];
      this.pending.delete(table.name);
      const perStatement = Math.min(
        ROWS_PER_INSERT[this.tx.dialect],
        Math.floor(MAX_PARAMETERS / table.columns.length),
      );
      for (let start = 0; start < rows.length; start += perStatement) {
        const chunk = rows.slice(start, start + perStatement);
        this.tx.send(
          insertSql(table, chunk.length),
          chunk.flatMap((row) => valuesOf(table, row)),
        );
      }
    }
  }
}

const insertSqlCache = new Map<string, string>();

function insertSql(table: ViewTable, rows: number): string {
  const cacheKey = `${table.name}:${rows}`;
  let sql = insertSqlCache.get(cacheKey);
  if (sql === undefined) {
    const tuple = `(${table.columns.map(() => '?').join(', ')})`;
    sql = `INSERT INTO ${table.name} (${table.columns.map((column) => column.name).join(', ')}) VALUES ${Array(
      rows,
    )
      .fill(tuple)
      .join(', ')}`;
    insertSqlCache.set(cacheKey, sql);
  }
  return sql;
}

/** Reads an integer-or-null column of a row from either store. */
export function nullableInteger(row: Row | undefined, column: string): number | null {
  const value = row?.[column];
  return value === null || value === undefined ? null : asNumber(value);
}
