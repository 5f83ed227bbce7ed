import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The event log, the retention seed table and the four views. One migration for both dialects: the DDL differs
 * only where the engines do (identity vs AUTOINCREMENT, bytea vs BLOB, timestamptz vs RFC 3339 text, jsonb vs
 * text), and both spell the same columns, constraints and indexes.
 */
export class InitialSchema1764201600000 implements MigrationInterface {
  readonly name = 'InitialSchema1764201600000';

  async up(runner: QueryRunner): Promise<void> {
    const postgres = runner.dataSource.options.type === 'postgres';
    for (const statement of postgres ? POSTGRES_UP : SQLITE_UP) await runner.query(statement);
    for (const [name, ttlDays, description] of RETENTION_CLASSES) {
      await runner.query(
        postgres
          ? 'INSERT INTO retention_classes (name, ttl_days, description) VALUES ($1, $2, $3)'
          : 'INSERT INTO retention_classes (name, ttl_days, description) VALUES (?, ?, ?)',
        [name, ttlDays, description],
      );
    }
  }

  async down(runner: QueryRunner): Promise<void> {
    for (const table of ['retention_state', 'storage_locations', 'artifact_files', 'artifact_packages']) {
      await runner.query(`DROP TABLE ${table}`);
    }
    await runner.query('DROP TABLE retention_classes');
    await runner.query('DROP TABLE events');
    if (runner.dataSource.options.type === 'postgres')
      await runner.query('DROP FUNCTION events_append_only()');
  }
}

const RETENTION_CLASSES: readonly [string, number | null, string][] = [
  ['ephemeral', 7, 'Scratch builds and previews; kept 7 days after finalization.'],
  ['standard', 90, 'Ordinary CI output; kept 90 days after finalization.'],
  ['long_term', 3650, 'Releases and audited artifacts; kept 10 years after finalization.'],
  ['permanent', null, 'Never expires.'],
];

const VIEW_INDEXES = [
  'CREATE INDEX artifact_packages_created_idx ON artifact_packages (created_at, id)',
  'CREATE INDEX artifact_packages_name_idx ON artifact_packages (name, created_at, id)',
  'CREATE INDEX artifact_packages_producer_idx ON artifact_packages (producer, created_at, id)',
  'CREATE INDEX artifact_packages_subject_idx ON artifact_packages (subject, created_at, id)',
  'CREATE INDEX artifact_packages_status_idx ON artifact_packages (status, created_at, id)',
  'CREATE UNIQUE INDEX artifact_packages_manifest_digest_idx ON artifact_packages (manifest_digest)',
  'CREATE INDEX artifact_files_blake3_idx ON artifact_files (blake3)',
  'CREATE INDEX storage_locations_file_idx ON storage_locations (file_id)',
  'CREATE INDEX storage_locations_key_idx ON storage_locations (backend, key)',
  'CREATE INDEX retention_state_expires_idx ON retention_state (expires_at)',
];

const POSTGRES_UP = [
  `CREATE TABLE events (
    sequence bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_type text NOT NULL,
    subject_kind text NOT NULL,
    subject_id text NOT NULL,
    actor text NOT NULL,
    payload bytea NOT NULL,
    payload_digest bytea NOT NULL CHECK (octet_length(payload_digest) = 32),
    chain_digest bytea NOT NULL CHECK (octet_length(chain_digest) = 32),
    created_at timestamptz(3) NOT NULL
  )`,
  'CREATE INDEX events_subject_idx ON events (subject_kind, subject_id, sequence)',
  `CREATE OR REPLACE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'events are append-only'; END $$`,
  `CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_append_only()`,
  `CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_append_only()`,
  `CREATE TABLE retention_classes (
    name text PRIMARY KEY,
    ttl_days integer CHECK (ttl_days > 0),
    description text NOT NULL
  )`,
  `CREATE TABLE artifact_packages (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    producer text NOT NULL,
    subject text NOT NULL,
    retention_class text NOT NULL,
    status text NOT NULL CHECK (status IN ('created', 'finalized')),
    metadata jsonb NOT NULL,
    created_at timestamptz(3) NOT NULL,
    finalized_at timestamptz(3),
    manifest_digest text,
    last_event_sequence bigint NOT NULL
  )`,
  `CREATE TABLE artifact_files (
    id uuid PRIMARY KEY,
    package_id uuid NOT NULL REFERENCES artifact_packages (id),
    relative_path text COLLATE "C" NOT NULL,
    media_type text NOT NULL,
    size bigint NOT NULL CHECK (size >= 0),
    blake3 text NOT NULL,
    sha256 text NOT NULL,
    content_address text NOT NULL,
    created_at timestamptz(3) NOT NULL,
    UNIQUE (package_id, relative_path)
  )`,
  `CREATE TABLE storage_locations (
    id uuid PRIMARY KEY,
    file_id uuid NOT NULL REFERENCES artifact_files (id),
    backend text NOT NULL,
    key text NOT NULL,
    created_at timestamptz(3) NOT NULL
  )`,
  `CREATE TABLE retention_state (
    package_id uuid PRIMARY KEY REFERENCES artifact_packages (id),
    retention_class text NOT NULL,
    ttl_days integer,
    expires_at timestamptz(3),
    created_at timestamptz(3) NOT NULL
  )`,
  ...VIEW_INDEXES,
];

// STRICT tables: SQLite then refuses a value of the wrong type instead of storing it as is.
const SQLITE_UP = [
  `CREATE TABLE events (
    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
    event_type TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    payload BLOB NOT NULL,
    payload_digest BLOB NOT NULL CHECK (length(payload_digest) = 32),
    chain_digest BLOB NOT NULL CHECK (length(chain_digest) = 32),
    created_at TEXT NOT NULL
  ) STRICT`,
  'CREATE INDEX events_subject_idx ON events (subject_kind, subject_id, sequence)',
  `CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only'); END`,
  `CREATE TRIGGER events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only'); END`,
  `CREATE TABLE retention_classes (
    name TEXT PRIMARY KEY,
    ttl_days INTEGER CHECK (ttl_days > 0),
    description TEXT NOT NULL
  ) STRICT`,
  `CREATE TABLE artifact_packages (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    producer TEXT NOT NULL,
    subject TEXT NOT NULL,
    retention_class TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('created', 'finalized')),
    metadata TEXT NOT NULL,
    created_at TEXT NOT NULL,
    finalized_at TEXT,
    manifest_digest TEXT,
    last_event_sequence INTEGER NOT NULL
  ) STRICT`,
  `CREATE TABLE artifact_files (
    id TEXT PRIMARY KEY,
    package_id TEXT NOT NULL REFERENCES artifact_packages (id),
    relative_path TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL CHECK (size >= 0),
    blake3 TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    content_address TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (package_id, relative_path)
  ) STRICT`,
  `CREATE TABLE storage_locations (
    id TEXT PRIMARY KEY,
    file_id TEXT NOT NULL REFERENCES artifact_files (id),
    backend TEXT NOT NULL,
    key TEXT NOT NULL,
    created_at TEXT NOT NULL
  ) STRICT`,
  `CREATE TABLE retention_state (
    package_id TEXT PRIMARY KEY REFERENCES artifact_packages (id),
    retention_class TEXT NOT NULL,
    ttl_days INTEGER,
    expires_at TEXT,
    created_at TEXT NOT NULL
  ) STRICT`,
  ...VIEW_INDEXES,
];
