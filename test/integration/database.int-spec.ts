import { DataSource } from 'typeorm';
import { simpleCaseFold } from '@artifactstore/codec';
import { Database, DatabaseError, MIGRATIONS, type Tx, dataSourceOptions } from '@artifactstore/db';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';

/** The names of the migrations from the one at `from` on, in order: what migrating a store at `from` applies. */
const migrationNames = (from: number): string[] => MIGRATIONS.slice(from).map((migration) => migration.name);

describe.each(dialectsUnderTest())('Database on $dialect', (dialectUnderTest) => {
  let testDatabase: TestDatabase;
  let database: Database;

  beforeEach(async () => {
    testDatabase = await dialectUnderTest.create();
    database = await Database.open(testDatabase.config);
  });

  afterEach(async () => {
    await database.close();
    await testDatabase.dispose();
  });

  it('migrates a fresh database: seed classes, view tables, and nothing pending', async () => {
    const classes = await database.read((tx) =>
      tx.query('SELECT name, ttl_days, description FROM retention_classes ORDER BY ttl_days'),
    );
    expect(classes.map((row) => [row.name, row.ttl_days === null ? null : Number(row.ttl_days)])).toEqual(
      testDatabase.dialect === 'postgres'
        ? [
            ['ephemeral', 7],
            ['standard', 90],
            ['long_term', 3650],
            ['permanent', null],
          ]
        : [
            ['permanent', null],
            ['ephemeral', 7],
            ['standard', 90],
            ['long_term', 3650],
          ],
    );
    expect(await database.migrate()).toEqual([]);
  });

  it('fills the package totals of rows written before the migration that added them', async () => {
    const other = await dialectUnderTest.create({ ARTIFACTSTORE_MIGRATE_ON_START: 'false' });
    const [first] = MIGRATIONS;
    const old = new DataSource({ ...dataSourceOptions(other.config), migrations: first ? [first] : [] });
    await old.initialize();
    try {
      await old.runMigrations({ transaction: 'all' });
      const id = '00000000-0000-4000-8000-00000000000a';
      const when = '2026-01-01T00:00:00.000Z';
      await old.query(
        `INSERT INTO artifact_packages (id, name, producer, subject, retention_class, status, metadata, created_at,
          last_event_sequence) VALUES ('${id}', 'n', 'p', 's', 'standard', 'created', '{}', '${when}', 1)`,
      );
      for (const [n, size] of [
        [1, 10],
        [2, 32],
      ] as const) {
        await old.query(
          `INSERT INTO artifact_files (id, package_id, relative_path, media_type, size, blake3, sha256, content_address,
            created_at) VALUES ('00000000-0000-4000-8000-00000000010${n}', '${id}', 'f${n}', 'a/b', ${size}, 'x', 'y',
            'z', '${when}')`,
        );
      }
    } finally {
      await old.destroy();
    }
    const migrated = await Database.open(other.config);
    try {
      expect(await migrated.migrate()).toEqual(migrationNames(1));
      const [row] = await migrated.read((tx) =>
        tx.query('SELECT file_count, total_size FROM artifact_packages'),
      );
      expect([Number(row?.file_count), Number(row?.total_size)]).toEqual([2, 42]);
    } finally {
      await migrated.close();
      await other.dispose();
    }
  });

  it('fills the folded paths of rows written before the migration that added them, as the view would', async () => {
    const other = await dialectUnderTest.create({ ARTIFACTSTORE_MIGRATE_ON_START: 'false' });
    const old = new DataSource({ ...dataSourceOptions(other.config), migrations: MIGRATIONS.slice(0, 2) });
    const paths = ['plain/file.txt', 'Dir/README.md', 'STRAẞE/ǅ', 'İ/ı', 'A.txt', 'a.txt'];
    await old.initialize();
    try {
      await old.runMigrations({ transaction: 'all' });
      const id = '00000000-0000-4000-8000-00000000000b';
      const when = '2026-01-01T00:00:00.000Z';
      await old.query(
        `INSERT INTO artifact_packages (id, name, producer, subject, retention_class, status, metadata, created_at,
          last_event_sequence) VALUES ('${id}', 'n', 'p', 's', 'standard', 'created', '{}', '${when}', 1)`,
      );
      for (const [n, path] of paths.entries()) {
        await old.query(
          `INSERT INTO artifact_files (id, package_id, relative_path, media_type, size, blake3, sha256, content_address,
            created_at) VALUES ('00000000-0000-4000-8000-00000000020${n}', '${id}', '${path}', 'a/b', 1, 'x', 'y',
            'z', '${when}')`,
        );
      }
    } finally {
      await old.destroy();
    }
    const migrated = await Database.open(other.config);
    try {
      expect(await migrated.migrate()).toEqual(migrationNames(2));
      const rows = await migrated.read((tx) =>
        tx.query('SELECT relative_path, folded_path FROM artifact_files ORDER BY id'),
      );
      expect(rows.map((row) => [row.relative_path, row.folded_path])).toEqual(
        paths.map((path) => [path, simpleCaseFold(path)]),
      );
      expect(rows.map((row) => row.folded_path)).toEqual([
        'plain/file.txt',
        'dir/readme.md',
        'straße/ǆ',
        'İ/ı',
        'a.txt',
        'a.txt',
      ]);
    } finally {
      await migrated.close();
      await other.dispose();
    }
  });

  it('leaves the schema alone when ARTIFACTSTORE_MIGRATE_ON_START=false', async () => {
    const other = await dialectUnderTest.create({ ARTIFACTSTORE_MIGRATE_ON_START: 'false' });
    const unmigrated = await Database.open(other.config);
    try {
      await expect(
        unmigrated.read((tx) => tx.query('SELECT COUNT(*) AS n FROM events')),
      ).rejects.toBeInstanceOf(DatabaseError);
      expect(await unmigrated.migrate()).toEqual(migrationNames(0));
      expect(await unmigrated.read((tx) => tx.query('SELECT COUNT(*) AS n FROM events'))).toHaveLength(1);
    } finally {
      await unmigrated.close();
      await other.dispose();
    }
  });

  it('rolls back a unit of work that throws, and commits one that returns', async () => {
    await expect(
      database.write(async (tx) => {
        await tx.run("INSERT INTO retention_classes (name, ttl_days, description) VALUES ('tmp', 1, 'x')");
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(
      await database.read((tx) => tx.query("SELECT name FROM retention_classes WHERE name = 'tmp'")),
    ).toEqual([]);
    const touched = await database.write((tx) =>
      tx.run('INSERT INTO retention_classes (name, ttl_days, description) VALUES (?, ?, ?)', ['tmp', 1, 'x']),
    );
    expect(touched).toBe(1);
  });

  it('reports constraint violations as DatabaseError kinds, the same on both dialects', async () => {
    const insert = (name: string) =>
      database.write((tx) =>
        tx.run('INSERT INTO retention_classes (name, ttl_days, description) VALUES (?, ?, ?)', [
          name,
          1,
          'x',
        ]),
      );
    await expect(insert('standard')).rejects.toBeInstanceOf(DatabaseError);
    await expect(insert('standard')).rejects.toMatchObject({ kind: 'unique_violation' });
    await expect(
      database.write((tx) =>
        tx.run("INSERT INTO retention_classes (name, ttl_days, description) VALUES ('z', 0, 'x')"),
      ),
    ).rejects.toMatchObject({ kind: 'check_violation' });
    await expect(database.write((tx) => tx.run('SELECT nope FROM nowhere'))).rejects.toMatchObject({
      kind: 'other',
    });
  });

  describe('statements sent without waiting (Tx.send)', () => {
    const insertClass = 'INSERT INTO retention_classes (name, ttl_days, description) VALUES (?, ?, ?)';
    const namesLike = (prefix: string): Promise<string[]> =>
      database
        .read((tx) =>
          tx.query('SELECT name FROM retention_classes WHERE name LIKE ? ORDER BY name', [`${prefix}%`]),
        )
        .then((rows) => rows.map((row) => String(row.name)));

    it('commits sent writes, which later statements of the unit see', async () => {
      const seen = await database.write(async (tx) => {
        tx.send(insertClass, ['sent-a', 1, 'x']);
        tx.send(insertClass, ['sent-b', 2, 'x']);
        return tx.query("SELECT name FROM retention_classes WHERE name LIKE 'sent-%' ORDER BY name");
      });
      expect(seen.map((row) => row.name)).toEqual(['sent-a', 'sent-b']);
      expect(await namesLike('sent-')).toEqual(['sent-a', 'sent-b']);
    });

    it("fails the unit's next awaited statement with the sent statement's own failure, and keeps nothing", async () => {
      const unit = database.write(async (tx) => {
        tx.send(insertClass, ['dup-a', 1, 'x']);
        tx.send(insertClass, ['standard', 1, 'x']); // taken: a unique violation
        tx.send(insertClass, ['dup-b', 1, 'x']);
        await tx.query('SELECT 1 AS one');
        return 'went on';
      });
      await expect(unit).rejects.toMatchObject({ kind: 'unique_violation' });
      expect(await namesLike('dup-')).toEqual([]);
    });

    it('fails the commit when the last statements were sent and one of them failed', async () => {
      const unit = database.write(async (tx) => {
        tx.send(insertClass, ['last-a', 1, 'x']);
        tx.send(insertClass, ['last-b', 0, 'x']); // ttl_days must be positive: a check violation
        return Promise.resolve('returned');
      });
      await expect(unit).rejects.toMatchObject({ kind: 'check_violation' });
      expect(await namesLike('last-')).toEqual([]);
    });

    if (dialectUnderTest.dialect === 'postgres') {
      // PostgreSQL aborts the transaction at the failure and answers its COMMIT with ROLLBACK.
      it('fails the commit with the own error of a failed statement the unit never awaited', async () => {
        const unit = database.write((tx) => {
          tx.send(insertClass, ['unawaited', 1, 'x']);
          tx.query(insertClass, ['standard', 1, 'x']).catch(() => undefined);
          return Promise.resolve();
        });
        await expect(unit).rejects.toMatchObject({ kind: 'unique_violation' });
        expect(await namesLike('unawaited')).toEqual([]);
      });
    }

    it('refuses a statement issued through a unit that has ended', async () => {
      let kept: Tx | undefined;
      await database.write(async (tx) => {
        kept = tx;
        await tx.query('SELECT 1 AS one');
      });
      if (kept === undefined) throw new Error('the unit did not run');
      const after = kept;
      await expect(after.query('SELECT 1 AS one')).rejects.toThrow(/has ended/);
      expect(() => {
        after.send(insertClass, ['late', 1, 'x']);
      }).toThrow(/has ended/);
      expect(await namesLike('late')).toEqual([]);
    });

    it('runs before-commit checks in order after the work, and rolls back when one throws', async () => {
      const order: string[] = [];
      await database.write(async (tx) => {
        tx.beforeCommit(async () => {
          order.push(
            `first sees ${(await tx.query("SELECT name FROM retention_classes WHERE name = 'chk'")).length}`,
          );
        });
        tx.beforeCommit(() => Promise.resolve(void order.push('second')));
        tx.send(insertClass, ['chk', 1, 'x']);
        order.push('work done');
        return Promise.resolve();
      });
      expect(order).toEqual(['work done', 'first sees 1', 'second']);
      await expect(
        database.write(async (tx) => {
          tx.send(insertClass, ['chk-undone', 1, 'x']);
          tx.beforeCommit(() => Promise.reject(new Error('check failed')));
          return Promise.resolve();
        }),
      ).rejects.toThrow('check failed');
      expect(await namesLike('chk-')).toEqual([]);
    });
  });

  it('runs after-commit hooks only on commit', async () => {
    const calls: string[] = [];
    await database.write(async (tx) => {
      tx.afterCommit(() => calls.push('committed'));
      await tx.query('SELECT 1 AS one');
    });
    await database
      .write(async (tx) => {
        tx.afterCommit(() => calls.push('rolled back'));
        await Promise.reject(new Error('no'));
      })
      .catch(() => undefined);
    expect(calls).toEqual(['committed']);
  });

  if (dialectUnderTest.dialect === 'sqlite') {
    it('runs SQLite in WAL mode with synchronous=FULL, foreign keys, and no busy handler on the writer (Database waits on timers)', async () => {
      const pragmas = await database.write(async (tx) => ({
        journal: (await tx.query('PRAGMA journal_mode'))[0],
        synchronous: (await tx.query('PRAGMA synchronous'))[0],
        foreignKeys: (await tx.query('PRAGMA foreign_keys'))[0],
        busyTimeout: (await tx.query('PRAGMA busy_timeout'))[0],
      }));
      expect(pragmas).toEqual({
        journal: { journal_mode: 'wal' },
        synchronous: { synchronous: 2 },
        foreignKeys: { foreign_keys: 1 },
        busyTimeout: { timeout: 0 },
      });
    });

    it('honours ARTIFACTSTORE_SQLITE_SYNCHRONOUS=normal', async () => {
      const other = await dialectUnderTest.create({ ARTIFACTSTORE_SQLITE_SYNCHRONOUS: 'normal' });
      const db = await Database.open(other.config);
      try {
        expect(await db.write((tx) => tx.query('PRAGMA synchronous'))).toEqual([{ synchronous: 1 }]);
      } finally {
        await db.close();
        await other.dispose();
      }
    });
  }

  it('enforces foreign keys between views', async () => {
    await expect(
      database.write((tx) =>
        tx.run(
          `INSERT INTO storage_locations (id, file_id, backend, key, created_at)
           VALUES ('00000000-0000-4000-8000-000000000009', '00000000-0000-4000-8000-000000000008', 'fs', 'k',
                   '2026-01-01T00:00:00.000Z')`,
        ),
      ),
    ).rejects.toMatchObject({ kind: 'foreign_key_violation' });
  });
});
