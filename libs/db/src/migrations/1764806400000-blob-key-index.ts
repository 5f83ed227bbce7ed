import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Storage locations are matched by key alone (ADR 0018): the collector, the scrub, the unreferenced-blob scan and a
 * mirror look a blob up by its key, whichever backend the log names. The index follows: on `key`, in place of
 * `(backend, key)`.
 */
export class BlobKeyIndex1764806400000 implements MigrationInterface {
  readonly name = 'BlobKeyIndex1764806400000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query('CREATE INDEX storage_locations_blob_idx ON storage_locations (key)');
    await runner.query('DROP INDEX storage_locations_key_idx');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('CREATE INDEX storage_locations_key_idx ON storage_locations (backend, key)');
    await runner.query('DROP INDEX storage_locations_blob_idx');
  }
}
