import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { jest } from '@jest/globals';
import BetterSqlite3 from 'better-sqlite3';
import { Logger } from '@nestjs/common';
import pg from 'pg';
import { loadConfig } from '@artifactstore/config';
import { Database, DatabaseError } from '@artifactstore/db';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';

const run = promisify(execFile);

/** Creates a throwaway table and counts its rows: enough to tell whether a failed unit of work left anything. */
async function prepareTable(database: Database): Promise<void> {
  await database.write((tx) =>
    tx.run('CREATE TABLE fault_probe (id INTEGER PRIMARY KEY, body TEXT NOT NULL)'),
  );
}

async function probeRows(database: Database): Promise<number> {
  const [row] = await database.read((tx) => tx.query('SELECT COUNT(*) AS n FROM fault_probe'));
  return Number(row?.n);
}

function failureOf(error: unknown): { kind: string } {
  expect(error).toBeInstanceOf(DatabaseError);
  return { kind: (error as DatabaseError).kind };
}

describe.each(dialectsUnderTest())('Database faults on $dialect', (dialectUnderTest) => {
  let testDatabase: TestDatabase;
  let database: Database;

  beforeEach(async () => {
    testDatabase = await dialectUnderTest.create();
    database = await Database.open(testDatabase.config);
    await prepareTable(database);
  });

  afterEach(async () => {
    await database.close();
    await testDatabase.dispose();
  });

  it('fails a unit of work on a closed database as unavailable, and counts it', async () => {
    await database.close();
    const error = await database.write((tx) => tx.run('SELECT 1')).catch((caught: unknown) => caught);
    expect(failureOf(error)).toEqual({ kind: 'unavailable' });
    const readError = await database.read((tx) => tx.query('SELECT 1')).catch((caught: unknown) => caught);
    expect(failureOf(readError)).toEqual({ kind: 'unavailable' });
    expect(database.connectionStats().failures).toEqual({ unavailable: 2, storage_full: 0 });
  });

  if (dialectUnderTest.dialect === 'postgres') {
    it('turns a connection lost mid-transaction into unavailable, writes nothing, and recovers', async () => {
      const url = testDatabase.config.database.dialect === 'postgres' ? testDatabase.config.database.url : '';
      const killer = new pg.Client({ connectionString: url });
      await killer.connect();
      const errors: string[] = [];
      const errorSpy = jest.spyOn(Logger.prototype, 'error').mockImplementation((message: unknown) => {
        errors.push(String(message));
      });
      try {
        const error = await database
          .write(async (tx) => {
            await tx.run('INSERT INTO fault_probe (id, body) VALUES (?, ?)', [1, 'lost']);
            const [row] = await tx.query('SELECT pg_backend_pid() AS pid');
            await killer.query('SELECT pg_terminate_backend($1)', [Number(row?.pid)]);
            await tx.run('INSERT INTO fault_probe (id, body) VALUES (?, ?)', [2, 'lost']);
          })
          .catch((caught: unknown) => caught);
        expect(failureOf(error)).toEqual({ kind: 'unavailable' });
        // The failed ROLLBACK on the dead connection is expected, not a second error.
        expect(errors).toEqual([]);
      } finally {
        errorSpy.mockRestore();
        await killer.end();
      }
      expect(await probeRows(database)).toBe(0);
      await database.write((tx) => tx.run('INSERT INTO fault_probe (id, body) VALUES (?, ?)', [3, 'kept']));
      expect(await probeRows(database)).toBe(1);
      expect(database.connectionStats().failures.unavailable).toBe(1);
    });

    it('classifies a refused connection and an exhausted pool as unavailable', async () => {
      // A port nobody listens on: the pool cannot connect at all.
      const refused = new pg.Client({ connectionString: 'postgres://root@127.0.0.1:1/test' });
      const cause = await refused.connect().catch((caught: unknown) => caught);
      expect(DatabaseError.from(cause, 'BEGIN').kind).toBe('unavailable');
      const timeout = new Error('timeout exceeded when trying to connect');
      expect(DatabaseError.from(timeout, 'BEGIN').kind).toBe('unavailable');
    });
  } else {
    it('turns SQLite busy past its timeout into unavailable without stopping the event loop (another process holds the write lock)', async () => {
      const path = testDatabase.config.database.dialect === 'sqlite' ? testDatabase.config.database.path : '';
      const other = new BetterSqlite3(path);
      other.exec('BEGIN IMMEDIATE');
      // The wait must leave the event loop free (health checks, reads): count the ticks of a 50 ms timer.
      let ticks = 0;
      const ticker = setInterval(() => (ticks += 1), 50);
      const started = Date.now();
      try {
        const error = await database
          .write((tx) => tx.run('INSERT INTO fault_probe (id, body) VALUES (?, ?)', [1, 'busy']))
          .catch((caught: unknown) => caught);
        expect(failureOf(error)).toEqual({ kind: 'unavailable' });
        expect((error as DatabaseError).driverCode).toMatch(/^SQLITE_BUSY/);
        const waitedMs = Date.now() - started;
        expect(waitedMs).toBeGreaterThanOrEqual(9_000);
        expect(ticks).toBeGreaterThan(waitedMs / 50 / 2);
        expect(await probeRows(database)).toBe(0);
      } finally {
        clearInterval(ticker);
        other.exec('ROLLBACK');
        other.close();
      }
      await database.write((tx) => tx.run('INSERT INTO fault_probe (id, body) VALUES (?, ?)', [2, 'kept']));
      expect(await probeRows(database)).toBe(1);
    }, 30_000);

    it('turns a full disk into storage_full with no second error, keeps reading, and writes again once freed (tmpfs; needs root)', async () => {
      const mountPoint = await mkdtemp(join(tmpdir(), 'artifactstore-dbfull-'));
      await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint]);
      const errors: string[] = [];
      const errorSpy = jest.spyOn(Logger.prototype, 'error').mockImplementation((message: unknown) => {
        errors.push(String(message));
      });
      const full = await Database.open(loadConfig({ ARTIFACTSTORE_DATA_DIR: mountPoint }));
      try {
        await prepareTable(full);
        await full.write((tx) => tx.run('INSERT INTO fault_probe (id, body) VALUES (?, ?)', [0, 'before']));
        const ballast = join(mountPoint, 'ballast');
        await writeFile(ballast, Buffer.alloc(0));
        // Fill what is left of the tmpfs, then ask for a commit larger than any page SQLite may still reuse.
        await run('sh', ['-c', `dd if=/dev/zero of=${ballast} bs=4k 2>/dev/null || true`]);
        const big = 'x'.repeat(256 * 1024);
        const error = await full
          .write(async (tx) => {
            for (let id = 1; id <= 4; id++) {
              await tx.run('INSERT INTO fault_probe (id, body) VALUES (?, ?)', [id, big]);
            }
          })
          .catch((caught: unknown) => caught);
        expect(failureOf(error)).toEqual({ kind: 'storage_full' });
        expect(errors).toEqual([]);
        expect(full.connectionStats().failures.storage_full).toBe(1);
        expect(await probeRows(full)).toBe(1);
        await rm(ballast);
        await full.write((tx) => tx.run('INSERT INTO fault_probe (id, body) VALUES (?, ?)', [5, 'after']));
        expect(await probeRows(full)).toBe(2);
      } finally {
        errorSpy.mockRestore();
        await full.close();
        await run('umount', [mountPoint]);
        await rm(mountPoint, { recursive: true, force: true });
      }
    });
  }
});
