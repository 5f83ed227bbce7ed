import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `tags`: the current tags, one row per `<name>:<tag>`, projected from `v1.tag.moved` and `v1.tag.deleted`. Indexed
 * by name (listing a name's tags) and by package (retention keeps tagged packages).
 */
export class Tags1764633600000 implements MigrationInterface {
  readonly name = 'Tags1764633600000';

  async up(runner: QueryRunner): Promise<void> {
    const postgres = runner.dataSource.options.type === 'postgres';
    await runner.query(
      postgres
        ? `CREATE TABLE tags (
            id text COLLATE "C" PRIMARY KEY,
            name text COLLATE "C" NOT NULL,
            tag text COLLATE "C" NOT NULL,
            package_id uuid NOT NULL REFERENCES artifact_packages (id),
            moved_at timestamptz(3) NOT NULL,
            moved_by text NOT NULL,
            last_event_sequence bigint NOT NULL
          )`
        : `CREATE TABLE tags (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            tag TEXT NOT NULL,
            package_id TEXT NOT NULL REFERENCES artifact_packages (id),
            moved_at TEXT NOT NULL,
            moved_by TEXT NOT NULL,
            last_event_sequence INTEGER NOT NULL
          ) STRICT`,
    );
    await runner.query('CREATE UNIQUE INDEX tags_name_idx ON tags (name, tag)');
    await runner.query('CREATE INDEX tags_package_idx ON tags (package_id)');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE tags');
  }
}
