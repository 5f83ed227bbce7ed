import { InitialSchema1764201600000 } from './1764201600000-initial-schema.js';
import { PackageTotals1764288000000 } from './1764288000000-package-totals.js';
import { FoldedPaths1764374400000 } from './1764374400000-folded-paths.js';
import { Lifecycle1764460800000 } from './1764460800000-lifecycle.js';
import { IdempotencyKeys1764547200000 } from './1764547200000-idempotency-keys.js';
import { Tags1764633600000 } from './1764633600000-tags.js';
import { LogTree1764720000000 } from './1764720000000-log-tree.js';
import { BlobKeyIndex1764806400000 } from './1764806400000-blob-key-index.js';

/** Every migration, oldest first. Add new ones at the end; never edit one that has shipped. */
export const MIGRATIONS = [
  InitialSchema1764201600000,
  PackageTotals1764288000000,
  FoldedPaths1764374400000,
  Lifecycle1764460800000,
  IdempotencyKeys1764547200000,
  Tags1764633600000,
  LogTree1764720000000,
  BlobKeyIndex1764806400000,
];
