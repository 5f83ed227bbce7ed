import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The transparency log's Merkle tree (RFC 9162, SHA-256) as a view of the event log, stored as the hashes that
 * C2SP tlog-tiles serves: `log_leaves` holds leaf i's hash and the sequence of the event it is (sequence gaps do
 * not count), `log_tile_hashes` the roots of the full 256-wide tiles below each level (level 1 holds tree level 8,
 * level 2 tree level 16, …). The tables start empty; the tree writer fills them from the log before its next
 * append, and at startup.
 */
export class LogTree1764720000000 implements MigrationInterface {
  readonly name = 'LogTree1764720000000';

  async up(runner: QueryRunner): Promise<void> {
    const postgres = runner.dataSource.options.type === 'postgres';
    await runner.query(
      postgres
        ? `CREATE TABLE log_leaves (
            leaf_index bigint PRIMARY KEY,
            sequence bigint NOT NULL UNIQUE,
            hash bytea NOT NULL CHECK (length(hash) = 32)
          )`
        : `CREATE TABLE log_leaves (
            leaf_index INTEGER PRIMARY KEY,
            sequence INTEGER NOT NULL UNIQUE,
            hash BLOB NOT NULL CHECK (length(hash) = 32)
          ) STRICT`,
    );
    await runner.query(
      postgres
        ? `CREATE TABLE log_tile_hashes (
            level smallint NOT NULL CHECK (level > 0),
            idx bigint NOT NULL,
            hash bytea NOT NULL CHECK (length(hash) = 32),
            PRIMARY KEY (level, idx)
          )`
        : `CREATE TABLE log_tile_hashes (
            level INTEGER NOT NULL CHECK (level > 0),
            idx INTEGER NOT NULL,
            hash BLOB NOT NULL CHECK (length(hash) = 32),
            PRIMARY KEY (level, idx)
          ) STRICT, WITHOUT ROWID`,
    );
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE log_tile_hashes');
    await runner.query('DROP TABLE log_leaves');
  }
}
