import type { MigrationInterface, QueryRunner } from 'typeorm';
import { simpleCaseFold } from '@artifactstore/codec';

const PAGE = 1000;

/**
 * `artifact_files.folded_path`, the Unicode simple case folding of relative_path, kept by the file-ingested
 * projection and indexed with the package, so that an ingest finds the package's paths that differ from its own
 * only by letter case without reading the package's files. Existing rows are filled here, in JavaScript with the
 * projection's own function, since neither dialect's SQL has simple case folding; a replay then yields the same
 * views. On PostgreSQL the column sorts by bytes (COLLATE "C"), as relative_path does, for the registry's range
 * lookups.
 */
export class FoldedPaths1764374400000 implements MigrationInterface {
  readonly name = 'FoldedPaths1764374400000';

  async up(runner: QueryRunner): Promise<void> {
    const postgres = runner.dataSource.options.type === 'postgres';
    const type = postgres ? 'text COLLATE "C"' : 'TEXT';
    await runner.query(`ALTER TABLE artifact_files ADD COLUMN folded_path ${type} NOT NULL DEFAULT ''`);
    // Most paths fold to themselves: one statement for those, then one per path that does not.
    await runner.query('UPDATE artifact_files SET folded_path = relative_path');
    const update = postgres
      ? 'UPDATE artifact_files SET folded_path = $1 WHERE id = $2'
      : 'UPDATE artifact_files SET folded_path = ? WHERE id = ?';
    const select = `SELECT id, relative_path FROM artifact_files`;
    let after: string | undefined;
    for (;;) {
      const rows = (await runner.query(
        after === undefined
          ? `${select} ORDER BY id LIMIT ${PAGE}`
          : `${select} WHERE id > ${postgres ? '$1' : '?'} ORDER BY id LIMIT ${PAGE}`,
        after === undefined ? [] : [after],
      )) as { id: string; relative_path: string }[];
      for (const row of rows) {
        const folded = simpleCaseFold(row.relative_path);
        if (folded !== row.relative_path) await runner.query(update, [folded, row.id]);
      }
      const last = rows[rows.length - 1];
      if (rows.length < PAGE || last === undefined) break;
      after = last.id;
    }
    await runner.query(
      'CREATE INDEX artifact_files_folded_path_idx ON artifact_files (package_id, folded_path)',
    );
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP INDEX artifact_files_folded_path_idx');
    await runner.query('ALTER TABLE artifact_files DROP COLUMN folded_path');
  }
}
