import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `artifact_packages.file_count` and `total_size`, kept by the file-ingested projection, so that listing packages
 * does not count and sum the files of every package on the page. Existing rows are filled from artifact_files.
 */
export class PackageTotals1764288000000 implements MigrationInterface {
  readonly name = 'PackageTotals1764288000000';

  async up(runner: QueryRunner): Promise<void> {
    const integer = runner.dataSource.options.type === 'postgres' ? 'bigint' : 'INTEGER';
    await runner.query(`ALTER TABLE artifact_packages ADD COLUMN file_count ${integer} NOT NULL DEFAULT 0`);
    await runner.query(`ALTER TABLE artifact_packages ADD COLUMN total_size ${integer} NOT NULL DEFAULT 0`);
    await runner.query(`UPDATE artifact_packages SET
      file_count = (SELECT count(*) FROM artifact_files f WHERE f.package_id = artifact_packages.id),
      total_size = (SELECT coalesce(sum(f.size), 0) FROM artifact_files f WHERE f.package_id = artifact_packages.id)`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('ALTER TABLE artifact_packages DROP COLUMN total_size');
    await runner.query('ALTER TABLE artifact_packages DROP COLUMN file_count');
  }
}
