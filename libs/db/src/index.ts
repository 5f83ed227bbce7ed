/**
 * @artifactstore/db — the database as units of work. `Database.write(tx => …)` is the one way to change data:
 * every function that writes takes that `tx` first, so a write cannot escape its transaction. SQL is written once
 * with `?` placeholders and runs on SQLite and PostgreSQL alike.
 */
export { Database, type ConnectionStats } from './database.js';
export { DbModule } from './db.module.js';
export { Tx, type Dialect, type Row } from './tx.js';
export { DatabaseError, type DatabaseErrorKind } from './database.errors.js';
export { dataSourceOptions } from './data-source-options.js';
export { MIGRATIONS } from './migrations/index.js';
export { asNumber, asString, asBytes, asTimestamp } from './row-values.js';
