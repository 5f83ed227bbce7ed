import type { Row, Tx } from '@artifactstore/db';
import { BatchingViewStore } from './view-store.js';
import { ProjectionError } from './view-handler.js';

/** A Tx that records statements and answers reads with nothing. */
function recordingTx(dialect: 'sqlite' | 'postgres' = 'postgres'): {
  tx: Tx;
  statements: { sql: string; params: readonly unknown[] }[];
} {
  const statements: { sql: string; params: readonly unknown[] }[] = [];
  const tx = {
    dialect,
    query: (sql: string, params: readonly unknown[] = []) => {
      statements.push({ sql, params });
      return Promise.resolve([] as Row[]);
    },
    run: (sql: string, params: readonly unknown[] = []) => {
      statements.push({ sql, params });
      return Promise.resolve(0);
    },
    send: (sql: string, params: readonly unknown[] = []) => {
      statements.push({ sql, params });
    },
  } as unknown as Tx;
  return { tx, statements };
}

const retention = (packageId: string) => ({
  package_id: packageId,
  retention_class: 'standard',
  ttl_days: 90,
  expires_at: null,
  created_at: '2026-01-01T00:00:00.000Z',
});

describe('BatchingViewStore', () => {
  it('serves updates and reads of waiting rows from memory, and writes them in one statement at flush', async () => {
    const { tx, statements } = recordingTx();
    const store = new BatchingViewStore(tx);
    await store.insert('retention_state', retention('p1'));
    await store.insert('retention_state', retention('p2'));
    expect(await store.update('retention_state', 'p1', { expires_at: 'x' }, { ttl_days: 90 })).toBe(true);
    expect(await store.update('retention_state', 'p2', { expires_at: 'y' }, { ttl_days: 7 })).toBe(false);
    expect((await store.get('retention_state', 'p1'))?.expires_at).toBe('x');
    expect(statements).toEqual([]);
    store.flush();
    expect(statements).toHaveLength(1);
    expect(statements[0]?.sql).toMatch(/^INSERT INTO retention_state .* VALUES \(.*\), \(.*\)$/s);
    expect(statements[0]?.params).toEqual([
      ...['p1', 'standard', 90, 'x', '2026-01-01T00:00:00.000Z'],
      ...['p2', 'standard', 90, null, '2026-01-01T00:00:00.000Z'],
    ]);
  });

  it('writes one row per statement on SQLite, where that is faster', async () => {
    const { tx, statements } = recordingTx('sqlite');
    const store = new BatchingViewStore(tx);
    await store.insert('retention_state', retention('p1'));
    await store.insert('retention_state', retention('p2'));
    store.flush();
    expect(statements.map((statement) => statement.params[0])).toEqual(['p1', 'p2']);
  });

  it('sends updates and reads of rows it does not hold to the database', async () => {
    const { tx, statements } = recordingTx();
    const store = new BatchingViewStore(tx);
    expect(await store.update('artifact_packages', 'p9', { last_event_sequence: 3 })).toBe(false);
    expect(await store.get('artifact_packages', 'p9')).toBeUndefined();
    expect(statements.map((statement) => statement.sql)).toEqual([
      'UPDATE artifact_packages SET last_event_sequence = ? WHERE id = ?',
      'SELECT * FROM artifact_packages WHERE id = ?',
    ]);
  });

  it('refuses a duplicate key and an incomplete row at once', async () => {
    const store = new BatchingViewStore(recordingTx().tx);
    await store.insert('retention_state', retention('p1'));
    await expect(store.insert('retention_state', retention('p1'))).rejects.toThrow(ProjectionError);
    await expect(store.insert('retention_state', { package_id: 'p2' })).rejects.toThrow(ProjectionError);
  });

  it('deletes matching rows it holds and sends the same delete to the database, and refuses a delete that matches everything', async () => {
    const { tx, statements } = recordingTx();
    const store = new BatchingViewStore(tx);
    const location = (id: string, key: string) => ({
      id,
      file_id: `f-${id}`,
      backend: 'fs',
      key,
      created_at: '2026-01-01T00:00:00.000Z',
    });
    await store.insert('storage_locations', location('l1', 'k1'));
    await store.insert('storage_locations', location('l2', 'k2'));
    expect(await store.deleteWhere('storage_locations', { backend: 'fs', key: 'k1' })).toBe(1);
    expect(statements).toEqual([
      { sql: 'DELETE FROM storage_locations WHERE backend = ? AND key = ?', params: ['fs', 'k1'] },
    ]);
    store.flush();
    expect(statements[1]?.params[0]).toBe('l2');
    expect(statements).toHaveLength(2);
    await expect(store.deleteWhere('storage_locations', {})).rejects.toThrow(ProjectionError);
    await expect(store.deleteWhere('storage_locations', { nope: 'x' })).rejects.toThrow(ProjectionError);
  });
});
