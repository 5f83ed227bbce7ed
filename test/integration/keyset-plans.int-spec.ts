import { randomBytes } from 'node:crypto';
import { blake3, encodeCanonicalCbor, sha256, uuidv7 } from '@artifactstore/codec';
import { Tx, type Row } from '@artifactstore/db';
import { makeEvent, type Event } from '@artifactstore/events';
import { liveBlobsAfter } from '@artifactstore/registry';
import { packageCreatedEvent, packageFinalizedEvent, fileIngestedEvent } from '@artifactstore/views';
import { openCore, type CoreContext } from '../support/core-context.js';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';

const PACKAGES = 6_000;
const NAMES = 20;

/** A stored event from a draft: only the views read it here. */
const stored = (draft: ReturnType<typeof packageCreatedEvent>, sequence: number, at: Date): Event => ({
  ...draft,
  sequence,
  created_at: at.toISOString(),
  chain_digest: Buffer.alloc(32),
});

const cursorOf = (createdAt: string, id: string): string =>
  Buffer.from(JSON.stringify([createdAt, id]), 'utf8').toString('base64url');

/**
 * Keyset pages must be index range searches, whatever their depth: the plan each list statement gets, on a store
 * with enough rows for the planner to care, searches an index whose order is the page's order, bounded by the
 * cursor, and never sorts.
 */
describe.each(dialectsUnderTest())('keyset pages on $dialect', (dialect) => {
  let testDatabase: TestDatabase;
  let core: CoreContext;
  const rows: { id: string; created_at: string; name: string }[] = [];
  let withFiles = '';

  beforeAll(async () => {
    testDatabase = await dialect.create({ ARTIFACTSTORE_GC_INTERVAL_SECONDS: '0' });
    core = await openCore(testDatabase.config);
    const events: Event[] = [];
    const start = Date.parse('2026-01-01T00:00:00.000Z');
    for (let i = 0; i < PACKAGES; i++) {
      const id = uuidv7();
      const at = new Date(start + i * 1000);
      const name = `app-${i % NAMES}`;
      events.push(
        stored(
          packageCreatedEvent('ci', {
            package_id: id,
            name,
            producer: `team-${i % 7}`,
            subject: `git:${i}`,
            retention_class: 'standard',
            ttl_days: 90,
            metadata: {},
          }),
          events.length + 1,
          at,
        ),
      );
      rows.push({ id, created_at: at.toISOString(), name });
      if (i % 3 === 0) {
        const manifest = encodeCanonicalCbor({
          schema: 'artifactstore.manifest.v1',
          package: { id, name, producer: `team-${i % 7}`, subject: `git:${i}`, metadata: {} },
          files: [],
        });
        events.push(stored(packageFinalizedEvent('ci', id, manifest), events.length + 1, at));
      }
    }
    withFiles = rows[1]?.id ?? ''; // created, not finalized: it takes files
    for (let f = 0; f < 300; f++) {
      const content = randomBytes(8);
      const digest = blake3(content);
      events.push(
        stored(
          fileIngestedEvent('ci', {
            file_id: uuidv7(),
            package_id: withFiles,
            relative_path: `dir/file-${String(f).padStart(4, '0')}`,
            media_type: 'application/octet-stream',
            size: content.length,
            blake3: digest,
            sha256: sha256(content),
            storage: { location_id: uuidv7(), backend: 'fs', key: digest.toString('hex') },
          }),
          events.length + 1,
          new Date(start),
        ),
      );
    }
    await core.database.write(async (tx) => {
      for (let i = 0; i < events.length; i += 2_000)
        await core.viewWriter.applyBatch(tx, events.slice(i, i + 2_000));
    });
    await core.database.write(async (tx) => {
      for (let i = 0; i < 3_000; i++) {
        await core.eventLog.append(
          tx,
          makeEvent(
            { event_type: 'v1.test.tick', subject_kind: 'test', subject_id: `t-${i}`, actor: 'ci' },
            { i },
          ),
        );
      }
    });
    await core.database.write((tx) => tx.run('ANALYZE'));
  }, 120_000);

  afterAll(async () => {
    await core.app.close();
    await testDatabase.dispose();
  });

  /** The statements (and parameters) `work` runs through the database. */
  async function statementsOf(
    work: () => Promise<unknown>,
  ): Promise<{ sql: string; params: readonly unknown[] }[]> {
    const seen: { sql: string; params: readonly unknown[] }[] = [];
    const original = Object.getOwnPropertyDescriptor(Tx.prototype, 'query');
    const query = Tx.prototype.query;
    Tx.prototype.query = async function <T extends Row = Row>(
      this: Tx,
      sql: string,
      params: readonly unknown[] = [],
    ): Promise<T[]> {
      seen.push({ sql, params });
      return query.call(this, sql, params) as Promise<T[]>;
    };
    try {
      await work();
    } finally {
      if (original) Object.defineProperty(Tx.prototype, 'query', original);
    }
    return seen;
  }

  async function planOf(sql: string, params: readonly unknown[]): Promise<string> {
    return core.database.read(async (tx) => {
      if (tx.dialect === 'sqlite') {
        const plan = await tx.query(`EXPLAIN QUERY PLAN ${sql}`, params);
        return plan.map((row) => String(row.detail)).join('\n');
      }
      const plan = await tx.query(`EXPLAIN ${sql}`, params);
      return plan.map((row) => String(row['QUERY PLAN'])).join('\n');
    });
  }

  /**
   * Asserts that the one statement `work` runs matching `pattern` is a range search of `index` (SQLite: an index
   * name, or `INTEGER PRIMARY KEY` for a rowid table), bounded as `bound` says.
   */
  async function expectRange(
    work: () => Promise<unknown>,
    pattern: RegExp,
    index: string,
    bound: RegExp,
  ): Promise<void> {
    const statements = (await statementsOf(work)).filter((statement) => pattern.test(statement.sql));
    expect(statements).toHaveLength(1);
    const [statement] = statements;
    const plan = await planOf(statement?.sql ?? '', statement?.params ?? []);
    if (dialect.dialect === 'sqlite') {
      expect(plan).toMatch(new RegExp(`SEARCH \\w+ USING (COVERING )?(INDEX )?${index} \\(`));
      expect(plan).toMatch(bound);
      expect(plan).not.toMatch(/TEMP B-TREE|SCAN /);
    } else {
      // The table the page walks is read through the index, the cursor bounding the range (an Index Cond, not a
      // Filter); what is joined to its few rows may be read as the planner likes.
      expect(plan).toMatch(
        new RegExp(
          `Index (Only )?Scan( Backward)? using ${index} on \\w+( \\w+)?[^\\n]*\\n\\s*Index Cond: [^\\n]*(?:${bound.source})`,
        ),
      );
      expect(plan).not.toMatch(/Rows Removed by Filter/);
    }
  }

  const registry = () => core.registry;
  const LIST = /FROM artifact_packages p.* ORDER BY p\.\w+ DESC/s;
  const cursorBound =
    /created_at, id\) < ROW|created_at,id\)<|ROW\(\w+, created_at, id\) < ROW|\w+,created_at,id\)</;

  it.each([
    ['no filter', {}, 'artifact_packages_created_idx'],
    ['name', { name: 'app-3' }, 'artifact_packages_name_idx'],
    ['producer', { producer: 'team-2' }, 'artifact_packages_producer_idx'],
    ['subject', { subject: 'git:17' }, 'artifact_packages_subject_idx'],
    ['status', { status: 'finalized' }, 'artifact_packages_status_idx'],
  ])(
    'lists packages by %s from a cursor in the middle and near the oldest end as a range',
    async (_, filter, index) => {
      for (const at of [Math.floor(PACKAGES / 2), 25]) {
        const row = rows[at];
        const cursor = cursorOf(row?.created_at ?? '', row?.id ?? '');
        await expectRange(
          () => registry().listPackages({ ...filter, cursor, limit: 50 }),
          LIST,
          index,
          cursorBound,
        );
      }
    },
  );

  it("lists a package's files after a path as a range of its path index", async () => {
    const first = await registry().listFiles(withFiles, { limit: 10 });
    expect(first.next_cursor).not.toBeNull();
    await expectRange(
      () => registry().listFiles(withFiles, { cursor: first.next_cursor ?? '', limit: 10 }),
      /FROM artifact_files f/,
      dialect.dialect === 'sqlite'
        ? 'sqlite_autoindex_artifact_files_\\d'
        : 'artifact_files_package_id_relative_path_key',
      /relative_path *>|relative_path > /,
    );
  });

  if (dialect.dialect === 'sqlite') {
    // SQLite would start from the status index and read every live file for each page. PostgreSQL reads these
    // 300 files whole, rightly at this size; at 200,000 it walks the key index.
    it("walks the scrub's live blobs by key as a range of the key index", async () => {
      await expectRange(
        () => core.database.read((tx) => liveBlobsAfter(tx, '8', 50)),
        /FROM storage_locations s/,
        'storage_locations_blob_idx',
        /key *>|key > /,
      );
    });
  }

  it('reads events after a sequence as a range of the log', async () => {
    await expectRange(
      () => registry().listEvents(100, 100),
      /FROM events WHERE sequence > \?/,
      dialect.dialect === 'sqlite' ? 'INTEGER PRIMARY KEY' : 'events_pkey',
      /sequence *>|rowid>/,
    );
  });
});
