import { leafHash, rootOfLeaves, TILE_WIDTH } from '@artifactstore/codec';
import { asBytes, asNumber, asString, asTimestamp, type Row, type Tx } from '@artifactstore/db';
import { encodeLogEntry, type LogEntryFields } from '@artifactstore/events';
import { ProjectionError } from './view-handler.js';

/** Leaves per statement on PostgreSQL (a round trip each); SQLite's prepared single-row INSERT is faster in-process. */
const LEAVES_PER_INSERT = { postgres: 500, sqlite: 1 } as const;
/** Events read per query when the tree catches up with the log. */
const CATCH_UP_BATCH = 2_000;

const ENTRY_COLUMNS = 'sequence, event_type, subject_kind, subject_id, actor, created_at, payload_digest';
const SELECT_LAST_LEAF = 'SELECT leaf_index, sequence FROM log_leaves ORDER BY leaf_index DESC LIMIT 1';
const SELECT_EVENTS_BETWEEN = `SELECT ${ENTRY_COLUMNS} FROM events
  WHERE sequence > ? AND sequence < ? ORDER BY sequence LIMIT ${CATCH_UP_BATCH}`;

/**
 * The common case in one statement: the event follows the tree's last leaf and no committed event lies between
 * them, so it becomes the next leaf; RETURNING says which. No row: the tree is behind or the event out of order.
 */
const INSERT_NEXT_LEAF = `INSERT INTO log_leaves (leaf_index, sequence, hash)
  SELECT COALESCE(last.leaf_index, -1) + 1, ?, ?
  FROM (SELECT 1 AS one) AS here
  LEFT JOIN (SELECT leaf_index, sequence FROM log_leaves ORDER BY leaf_index DESC LIMIT 1) AS last ON 1 = 1
  WHERE COALESCE(last.sequence, 0) < ?
    AND NOT EXISTS (SELECT 1 FROM events e WHERE e.sequence > COALESCE(last.sequence, 0) AND e.sequence < ?)
  RETURNING leaf_index`;

/** The tree's last leaf: its index and the sequence of its event. */
interface LastLeaf {
  readonly index: number;
  readonly sequence: number;
}

/**
 * Keeps the transparency log's Merkle tree (RFC 9162 over SHA-256; leaf i = the i-th event's log entry) as a view
 * of the log, in the tables that C2SP tlog-tiles serves: every leaf hash, and the root of every full 256-wide tile
 * as a hash of the level above. An append costs one leaf row, plus one tile root every 256 leaves (every 65,536
 * for level 2, …): O(log n) per event, nothing kept in memory between transactions.
 *
 * Runs in the append's transaction, after the event's own views, and in replay's batches; the tree's tables are
 * views like the others (reset by replay, covered by the state digest). A tree behind the log (a store written
 * before the tree existed) is brought up to date from the log first, so leaf i is always the i-th event.
 */
export class LogTreeWriter {
  /** Adds `events` (consecutive committed or appended events, in sequence order) as the tree's next leaves. */
  async append(tx: Tx, events: readonly LogEntryFields[]): Promise<void> {
    const first = events[0];
    if (first === undefined) return;
    if (events.length === 1) {
      // The write path appends one event at a time. Its leaf goes out pipelined, and whether it took is looked at
      // before the commit, when the answer has usually come back with those of later statements: no round trip of
      // its own, plus a tile's read every 256 leaves. When it did not take (the tree is behind the log), the
      // catch-up path runs then, in order with the checks of any later appends of the same transaction.
      const hash = leafHash(encodeLogEntry(first));
      const inserting = tx.query(INSERT_NEXT_LEAF, [first.sequence, hash, first.sequence, first.sequence]);
      inserting.catch(() => undefined); // awaited before the commit; the unit's next statement reports a failure
      tx.beforeCommit(async () => {
        const [row] = await inserting;
        if (row !== undefined) await completeTiles(tx, 0, asNumber(row.leaf_index), [hash]);
        else await this.appendSlowly(tx, events);
      });
      return;
    }
    await this.appendSlowly(tx, events);
  }

  private async appendSlowly(tx: Tx, events: readonly LogEntryFields[]): Promise<void> {
    const first = events[0];
    if (first === undefined) return;
    let last = await lastLeaf(tx);
    if (last !== undefined && first.sequence <= last.sequence) {
      throw new ProjectionError(`event ${first.sequence} is already in the log tree (leaf ${last.index})`);
    }
    // Events the tree lacks: the log grew without it.
    for (;;) {
      const missing = await tx.query(SELECT_EVENTS_BETWEEN, [last?.sequence ?? 0, first.sequence]);
      if (missing.length === 0) break;
      last = await this.extend(tx, last, missing.map(toEntryFields));
    }
    await this.extend(tx, last, events);
  }

  /**
   * Adds every committed event after the tree's last leaf, at most `limit` of them; returns how many it added.
   * Call it under the append lock.
   */
  async catchUp(tx: Tx, limit: number): Promise<number> {
    const last = await lastLeaf(tx);
    const rows = await tx.query(
      `SELECT ${ENTRY_COLUMNS} FROM events WHERE sequence > ? ORDER BY sequence LIMIT ?`,
      [last?.sequence ?? 0, limit],
    );
    await this.extend(tx, last, rows.map(toEntryFields));
    return rows.length;
  }

  private async extend(
    tx: Tx,
    last: LastLeaf | undefined,
    events: readonly LogEntryFields[],
  ): Promise<LastLeaf | undefined> {
    const final = events.at(-1);
    if (final === undefined) return last;
    const size = last === undefined ? 0 : last.index + 1;
    const hashes = events.map((event) => leafHash(encodeLogEntry(event)));
    const perStatement = LEAVES_PER_INSERT[tx.dialect];
    for (let start = 0; start < events.length; start += perStatement) {
      const chunk = events.slice(start, start + perStatement);
      const params = chunk.flatMap((event, offset) => [
        size + start + offset,
        event.sequence,
        hashes[start + offset],
      ]);
      tx.send(
        `INSERT INTO log_leaves (leaf_index, sequence, hash) VALUES ${chunk.map(() => '(?, ?, ?)').join(', ')}`,
        params,
      );
    }
    await completeTiles(tx, 0, size, hashes);
    return { index: size + events.length - 1, sequence: final.sequence };
  }
}

async function lastLeaf(tx: Tx): Promise<LastLeaf | undefined> {
  const [row] = await tx.query(SELECT_LAST_LEAF);
  return row === undefined
    ? undefined
    : { index: asNumber(row.leaf_index), sequence: asNumber(row.sequence) };
}

/**
 * `added` hashes joined tile level `level`, which held `before`; stores the root of every tile they complete as
 * the next level's hash, and so on up.
 */
async function completeTiles(tx: Tx, level: number, before: number, added: readonly Buffer[]): Promise<void> {
  const firstTile = Math.floor(before / TILE_WIDTH);
  const endTile = Math.floor((before + added.length) / TILE_WIDTH);
  if (endTile === firstTile) return;
  const start = firstTile * TILE_WIDTH;
  const hashes = before > start ? [...(await readTileHashes(tx, level, start, before)), ...added] : added;
  const roots: Buffer[] = [];
  for (let tile = firstTile; tile < endTile; tile++) {
    const from = (tile - firstTile) * TILE_WIDTH;
    const root = rootOfLeaves(hashes.slice(from, from + TILE_WIDTH));
    roots.push(root);
    tx.send('INSERT INTO log_tile_hashes (level, idx, hash) VALUES (?, ?, ?)', [level + 1, tile, root]);
  }
  await completeTiles(tx, level + 1, firstTile, roots);
}

/** The stored hashes of tile level `level` with index in [from, to), in order. */
async function readTileHashes(tx: Tx, level: number, from: number, to: number): Promise<Buffer[]> {
  const rows =
    level === 0
      ? await tx.query(
          'SELECT hash FROM log_leaves WHERE leaf_index >= ? AND leaf_index < ? ORDER BY leaf_index',
          [from, to],
        )
      : await tx.query(
          'SELECT hash FROM log_tile_hashes WHERE level = ? AND idx >= ? AND idx < ? ORDER BY idx',
          [level, from, to],
        );
  if (rows.length !== to - from) {
    throw new ProjectionError(`log tree level ${level} lacks hashes in [${from}, ${to})`);
  }
  return rows.map((row) => asBytes(row.hash));
}

function toEntryFields(row: Row): LogEntryFields {
  return {
    sequence: asNumber(row.sequence),
    event_type: asString(row.event_type),
    subject_kind: asString(row.subject_kind),
    subject_id: asString(row.subject_id),
    actor: asString(row.actor),
    created_at: asTimestamp(row.created_at),
    payload_digest: asBytes(row.payload_digest),
  };
}
