import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `artifact_packages.created_by` (the actor of the package's `v1.package.created`) and `idempotency_key` (the
 * key that request carried, if any), unique together, so that a retried create finds the package its first try
 * made. Existing rows take their actor from the log and have no key.
 */
export class IdempotencyKeys1764547200000 implements MigrationInterface {
  readonly name = 'IdempotencyKeys1764547200000';

  async up(runner: QueryRunner): Promise<void> {
    const postgres = runner.dataSource.options.type === 'postgres';
    await runner.query(
      `ALTER TABLE artifact_packages ADD COLUMN created_by ${postgres ? 'text' : 'TEXT'} NOT NULL DEFAULT ''`,
    );
    await runner.query(
      `ALTER TABLE artifact_packages ADD COLUMN idempotency_key ${postgres ? 'text' : 'TEXT'}`,
    );
    await runner.query(`UPDATE artifact_packages SET created_by = (SELECT e.actor FROM events e
      WHERE e.subject_kind = 'package' AND e.subject_id = ${postgres ? 'artifact_packages.id::text' : 'artifact_packages.id'}
        AND e.event_type = 'v1.package.created')
      WHERE EXISTS (SELECT 1 FROM events e WHERE e.subject_kind = 'package'
        AND e.subject_id = ${postgres ? 'artifact_packages.id::text' : 'artifact_packages.id'} AND e.event_type = 'v1.package.created')`);
    await runner.query(
      `CREATE UNIQUE INDEX artifact_packages_idempotency_idx ON artifact_packages (created_by, idempotency_key)
        WHERE idempotency_key IS NOT NULL`,
    );
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP INDEX artifact_packages_idempotency_idx');
    await runner.query('ALTER TABLE artifact_packages DROP COLUMN idempotency_key');
    await runner.query('ALTER TABLE artifact_packages DROP COLUMN created_by');
  }
}
