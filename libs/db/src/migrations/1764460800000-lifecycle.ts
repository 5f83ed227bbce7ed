import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Removal as part of a package's life: statuses `expired` and `deleted`, and the columns `held`, `hold_reason`,
 * `removed_at` and `removal_reason`, kept by the lifecycle projections; an index for the newest finalized packages
 * of a name (kept by retention). PostgreSQL replaces the status CHECK in place. SQLite cannot alter a CHECK, so
 * the table is rebuilt inside the migration's transaction: with foreign keys deferred, dropping the old table counts
 * its children's references as violations, and inserting the rows again into the new table (under the same name)
 * settles them before commit.
 */
export class Lifecycle1764460800000 implements MigrationInterface {
  readonly name = 'Lifecycle1764460800000';

  async up(runner: QueryRunner): Promise<void> {
    if (runner.dataSource.options.type === 'postgres') {
      for (const statement of POSTGRES_UP) await runner.query(statement);
    } else {
      await runner.query('PRAGMA defer_foreign_keys = ON');
      await runner.query('CREATE TEMP TABLE artifact_packages_copy AS SELECT * FROM artifact_packages');
      await runner.query('DROP TABLE artifact_packages');
      await runner.query(SQLITE_PACKAGES);
      await runner.query(`INSERT INTO artifact_packages (${COPIED_COLUMNS})
        SELECT ${COPIED_COLUMNS} FROM artifact_packages_copy`);
      await runner.query('DROP TABLE artifact_packages_copy');
      for (const statement of SQLITE_PACKAGE_INDEXES) await runner.query(statement);
    }
    await runner.query(LATEST_INDEX);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP INDEX artifact_packages_latest_idx');
    if (runner.dataSource.options.type !== 'postgres') {
      throw new Error('Lifecycle1764460800000 cannot be undone on SQLite');
    }
    await runner.query(`DELETE FROM artifact_packages WHERE status NOT IN ('created', 'finalized')`);
    await runner.query('ALTER TABLE artifact_packages DROP CONSTRAINT artifact_packages_status_check');
    await runner.query(
      `ALTER TABLE artifact_packages ADD CONSTRAINT artifact_packages_status_check CHECK (status IN ('created', 'finalized'))`,
    );
    for (const column of ['held', 'hold_reason', 'removed_at', 'removal_reason']) {
      await runner.query(`ALTER TABLE artifact_packages DROP COLUMN ${column}`);
    }
  }
}

const STATUSES = `status IN ('created', 'finalized', 'expired', 'deleted')`;

const POSTGRES_UP = [
  'ALTER TABLE artifact_packages DROP CONSTRAINT artifact_packages_status_check',
  `ALTER TABLE artifact_packages ADD CONSTRAINT artifact_packages_status_check CHECK (${STATUSES})`,
  'ALTER TABLE artifact_packages ADD COLUMN held integer NOT NULL DEFAULT 0 CHECK (held IN (0, 1))',
  'ALTER TABLE artifact_packages ADD COLUMN hold_reason text',
  'ALTER TABLE artifact_packages ADD COLUMN removed_at timestamptz(3)',
  'ALTER TABLE artifact_packages ADD COLUMN removal_reason text',
];

const COPIED_COLUMNS = [
  'id',
  'name',
  'producer',
  'subject',
  'retention_class',
  'status',
  'metadata',
  'created_at',
  'finalized_at',
  'manifest_digest',
  'last_event_sequence',
  'file_count',
  'total_size',
].join(', ');

const SQLITE_PACKAGES = `CREATE TABLE artifact_packages (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  producer TEXT NOT NULL,
  subject TEXT NOT NULL,
  retention_class TEXT NOT NULL,
  status TEXT NOT NULL CHECK (${STATUSES}),
  metadata TEXT NOT NULL,
  created_at TEXT NOT NULL,
  finalized_at TEXT,
  manifest_digest TEXT,
  last_event_sequence INTEGER NOT NULL,
  file_count INTEGER NOT NULL DEFAULT 0,
  total_size INTEGER NOT NULL DEFAULT 0,
  held INTEGER NOT NULL DEFAULT 0 CHECK (held IN (0, 1)),
  hold_reason TEXT,
  removed_at TEXT,
  removal_reason TEXT
) STRICT`;

/** The indexes the initial schema gave the table, which dropping it removed. */
const SQLITE_PACKAGE_INDEXES = [
  'CREATE INDEX artifact_packages_created_idx ON artifact_packages (created_at, id)',
  'CREATE INDEX artifact_packages_name_idx ON artifact_packages (name, created_at, id)',
  'CREATE INDEX artifact_packages_producer_idx ON artifact_packages (producer, created_at, id)',
  'CREATE INDEX artifact_packages_subject_idx ON artifact_packages (subject, created_at, id)',
  'CREATE INDEX artifact_packages_status_idx ON artifact_packages (status, created_at, id)',
  'CREATE UNIQUE INDEX artifact_packages_manifest_digest_idx ON artifact_packages (manifest_digest)',
];

const LATEST_INDEX =
  'CREATE INDEX artifact_packages_latest_idx ON artifact_packages (name, status, finalized_at, id)';
