import {
  canonicalJson,
  createBlake3,
  encodeCanonicalCbor,
  type CborValue,
  type JsonValue,
} from '@artifactstore/codec';
import { asBytes, asNumber, asString, asTimestamp, type Row, type Tx } from '@artifactstore/db';
import { VIEW_TABLES, type ViewColumn, type ViewTable } from './view-tables.js';

const PAGE_SIZE = 1000;

/** Every view row, normalized (see docs/formats.md), by table, in primary-key order. For tests and diagnostics. */
export type StateDump = Record<string, CborValue[][]>;

/**
 * BLAKE3 over a canonical dump of every view table (docs/formats.md, "State digest"): for each table in
 * VIEW_TABLES order, the CBOR of [table name, [column names]], then the CBOR of each row's normalized values in
 * primary-key order. Streams page by page; the same log gives the same digest on SQLite and PostgreSQL.
 */
export async function stateDigest(tx: Tx): Promise<Buffer> {
  const hash = createBlake3();
  for (const table of VIEW_TABLES) {
    hash.update(encodeCanonicalCbor([table.name, table.columns.map((column) => column.name)]));
    for await (const row of tableRows(tx, table)) hash.update(encodeCanonicalCbor(row));
  }
  return hash.digest();
}

/** The rows stateDigest hashes, in memory. */
export async function dumpState(tx: Tx): Promise<StateDump> {
  const dump: StateDump = {};
  for (const table of VIEW_TABLES) {
    const rows: CborValue[][] = [];
    for await (const row of tableRows(tx, table)) rows.push(row);
    dump[table.name] = rows;
  }
  return dump;
}

async function* tableRows(tx: Tx, table: ViewTable): AsyncGenerator<CborValue[]> {
  const columns = table.columns.map((column) => column.name).join(', ');
  const key = table.key.join(', ');
  // A row-value comparison, so that a composite key pages through its index too (SQLite ≥ 3.15, PostgreSQL).
  const after = table.key.length === 1 ? `${key} > ?` : `(${key}) > (${table.key.map(() => '?').join(', ')})`;
  const first = `SELECT ${columns} FROM ${table.name} ORDER BY ${key} LIMIT ${PAGE_SIZE}`;
  const next = `SELECT ${columns} FROM ${table.name} WHERE ${after} ORDER BY ${key} LIMIT ${PAGE_SIZE}`;
  let last: Row | undefined;
  for (;;) {
    const rows =
      last === undefined
        ? await tx.query(first)
        : await tx.query(
            next,
            table.key.map((k) => last?.[k]),
          );
    for (const row of rows) yield table.columns.map((column) => normalize(row, column, table));
    if (rows.length < PAGE_SIZE) return;
    last = rows[rows.length - 1];
  }
}

function normalize(row: Row, column: ViewColumn, table: ViewTable): CborValue {
  const value = row[column.name];
  if (value === null || value === undefined) {
    if (!column.nullable) throw new Error(`${table.name}.${column.name} is null`);
    return null;
  }
  switch (column.kind) {
    case 'text':
      return asString(value);
    case 'integer':
      return asNumber(value);
    case 'timestamp':
      return asTimestamp(value);
    case 'bytes':
      return asBytes(value);
    case 'json':
      // SQLite stores the JCS text, PostgreSQL hands back the parsed jsonb: both become the JCS text.
      return canonicalJson((typeof value === 'string' ? JSON.parse(value) : value) as JsonValue);
  }
}
