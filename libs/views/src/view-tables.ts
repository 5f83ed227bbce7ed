/** How a view column is normalized for the state digest, so that both dialects dump the same bytes. */
export type ColumnKind = 'text' | 'integer' | 'timestamp' | 'json' | 'bytes';

export interface ViewColumn {
  readonly name: string;
  readonly kind: ColumnKind;
  readonly nullable: boolean;
}

export interface ViewTable {
  readonly name: string;
  /** The primary key's columns; rows are dumped in its order. */
  readonly key: readonly string[];
  readonly columns: readonly ViewColumn[];
}

const column = (name: string, kind: ColumnKind, nullable = false): ViewColumn => ({ name, kind, nullable });

/**
 * Every view table, parents before children: the order of the state digest. Reset empties them in reverse.
 * A new view table must be added here, or replay will not clear it and the state digest will not cover it.
 */
export const VIEW_TABLES: readonly ViewTable[] = [
  {
    name: 'artifact_packages',
    key: ['id'],
    columns: [
      column('id', 'text'),
      column('name', 'text'),
      column('producer', 'text'),
      column('subject', 'text'),
      column('retention_class', 'text'),
      column('status', 'text'),
      column('metadata', 'json'),
      column('created_at', 'timestamp'),
      column('finalized_at', 'timestamp', true),
      column('manifest_digest', 'text', true),
      column('last_event_sequence', 'integer'),
      column('file_count', 'integer'),
      column('total_size', 'integer'),
      column('held', 'integer'),
      column('hold_reason', 'text', true),
      column('removed_at', 'timestamp', true),
      column('removal_reason', 'text', true),
      column('created_by', 'text'),
      column('idempotency_key', 'text', true),
    ],
  },
  {
    name: 'tags',
    key: ['id'],
    columns: [
      column('id', 'text'),
      column('name', 'text'),
      column('tag', 'text'),
      column('package_id', 'text'),
      column('moved_at', 'timestamp'),
      column('moved_by', 'text'),
      column('last_event_sequence', 'integer'),
    ],
  },
  {
    name: 'artifact_files',
    key: ['id'],
    columns: [
      column('id', 'text'),
      column('package_id', 'text'),
      column('relative_path', 'text'),
      column('folded_path', 'text'),
      column('media_type', 'text'),
      column('size', 'integer'),
      column('blake3', 'text'),
      column('sha256', 'text'),
      column('content_address', 'text'),
      column('created_at', 'timestamp'),
    ],
  },
  {
    name: 'storage_locations',
    key: ['id'],
    columns: [
      column('id', 'text'),
      column('file_id', 'text'),
      column('backend', 'text'),
      column('key', 'text'),
      column('created_at', 'timestamp'),
    ],
  },
  {
    name: 'retention_state',
    key: ['package_id'],
    columns: [
      column('package_id', 'text'),
      column('retention_class', 'text'),
      column('ttl_days', 'integer', true),
      column('expires_at', 'timestamp', true),
      column('created_at', 'timestamp'),
    ],
  },
  {
    name: 'log_leaves',
    key: ['leaf_index'],
    columns: [column('leaf_index', 'integer'), column('sequence', 'integer'), column('hash', 'bytes')],
  },
  {
    name: 'log_tile_hashes',
    key: ['level', 'idx'],
    columns: [column('level', 'integer'), column('idx', 'integer'), column('hash', 'bytes')],
  },
];
