import { DataSource } from 'typeorm';
import { Database, DatabaseError, MIGRATIONS, dataSourceOptions } from '@artifactstore/db';
import { dialectsUnderTest } from '../support/test-databases.js';

const PACKAGE = '00000000-0000-4000-8000-00000000000c';
const FILE = '00000000-0000-4000-8000-000000000301';
const WHEN = '2026-01-01T00:00:00.000Z';

describe.each(dialectsUnderTest())(
  'the lifecycle and idempotency migrations on $dialect',
  (dialectUnderTest) => {
    it('keeps every package, file and reference of a store written before it, and then takes the new statuses', async () => {
      const scratch = await dialectUnderTest.create({ ARTIFACTSTORE_MIGRATE_ON_START: 'false' });
      const before = MIGRATIONS.findIndex((migration) => migration.name === 'Lifecycle1764460800000');
      const old = new DataSource({
        ...dataSourceOptions(scratch.config),
        migrations: MIGRATIONS.slice(0, before),
      });
      await old.initialize();
      try {
        await old.runMigrations({ transaction: 'all' });
        await old.query(
          `INSERT INTO artifact_packages (id, name, producer, subject, retention_class, status, metadata, created_at,
          finalized_at, manifest_digest, last_event_sequence, file_count, total_size)
          VALUES ('${PACKAGE}', 'n', 'p', 's', 'standard', 'finalized', '{}', '${WHEN}', '${WHEN}', 'abc', 3, 1, 5)`,
        );
        await old.query(
          `INSERT INTO artifact_files (id, package_id, relative_path, folded_path, media_type, size, blake3, sha256,
          content_address, created_at) VALUES ('${FILE}', '${PACKAGE}', 'a', 'a', 'a/b', 5, 'x', 'y', 'z', '${WHEN}')`,
        );
        const postgres = scratch.dialect === 'postgres';
        await old.query(
          `INSERT INTO events (event_type, subject_kind, subject_id, actor, payload, payload_digest, chain_digest,
          created_at) VALUES ('v1.package.created', 'package', '${PACKAGE}', 'carol', ${postgres ? '$1, $2, $3' : '?, ?, ?'},
          '${WHEN}')`,
          [Buffer.from([0xa0]), Buffer.alloc(32, 1), Buffer.alloc(32, 2)],
        );
        await old.query(
          `INSERT INTO retention_state (package_id, retention_class, ttl_days, expires_at, created_at)
          VALUES ('${PACKAGE}', 'standard', 90, '${WHEN}', '${WHEN}')`,
        );
      } finally {
        await old.destroy();
      }
      const migrated = await Database.open(scratch.config);
      try {
        expect(await migrated.migrate()).toEqual(MIGRATIONS.slice(before).map((migration) => migration.name));
        const [pkg] = await migrated.read((tx) =>
          tx.query(
            `SELECT status, file_count, total_size, manifest_digest, held, hold_reason, removed_at, created_by,
            idempotency_key FROM artifact_packages`,
          ),
        );
        expect(pkg).toMatchObject({
          status: 'finalized',
          manifest_digest: 'abc',
          held: 0,
          hold_reason: null,
          removed_at: null,
          created_by: 'carol',
          idempotency_key: null,
        });
        expect(Number(pkg?.file_count)).toBe(1);
        expect(Number(pkg?.total_size)).toBe(5);
        await migrated.write((tx) =>
          tx.run(`UPDATE artifact_packages SET status = 'expired', removed_at = ? WHERE id = ?`, [
            WHEN,
            PACKAGE,
          ]),
        );
        // The constraints came through the rebuild: the new CHECK, the children's foreign keys, the unique digest.
        await expect(
          migrated.write((tx) =>
            tx.run(`UPDATE artifact_packages SET status = 'gone' WHERE id = ?`, [PACKAGE]),
          ),
        ).rejects.toMatchObject({ kind: 'check_violation' });
        await expect(
          migrated.write((tx) =>
            tx.run(
              `INSERT INTO artifact_files (id, package_id, relative_path, folded_path, media_type, size, blake3, sha256,
              content_address, created_at) VALUES (?, ?, 'b', 'b', 'a/b', 1, 'x', 'y', 'z', ?)`,
              ['00000000-0000-4000-8000-000000000302', '00000000-0000-4000-8000-0000000000ff', WHEN],
            ),
          ),
        ).rejects.toBeInstanceOf(DatabaseError);
        const indexes = await migrated.read((tx) =>
          tx.dialect === 'postgres'
            ? tx.query(`SELECT indexname AS name FROM pg_indexes WHERE tablename = 'artifact_packages'`)
            : tx.query(
                `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'artifact_packages'`,
              ),
        );
        expect(indexes.map((row) => row.name)).toEqual(
          expect.arrayContaining([
            'artifact_packages_created_idx',
            'artifact_packages_name_idx',
            'artifact_packages_status_idx',
            'artifact_packages_manifest_digest_idx',
            'artifact_packages_latest_idx',
          ]),
        );
      } finally {
        await migrated.close();
        await scratch.dispose();
      }
    });
  },
);
