/**
 * What kind of failure a statement hit, the same on both dialects. `unavailable` and `storage_full` are the
 * environment's fault, not the request's: the database could not be reached or used (refused, reset, lost mid-
 * transaction, no free connection in time, busy past the timeout), or it is out of space. Retrying later may work.
 */
export type DatabaseErrorKind =
  | 'unique_violation'
  | 'foreign_key_violation'
  | 'check_violation'
  | 'not_null_violation'
  | 'raised'
  | 'unavailable'
  | 'storage_full'
  | 'other';

/** PostgreSQL SQLSTATEs (Appendix A of its manual) by kind; class 08 as a whole is a connection exception. */
const POSTGRES_KINDS: Readonly<Record<string, DatabaseErrorKind>> = {
  '23505': 'unique_violation',
  '23503': 'foreign_key_violation',
  '23514': 'check_violation',
  '23502': 'not_null_violation',
  P0001: 'raised',
  '53100': 'storage_full', // disk_full
  '53000': 'unavailable', // insufficient_resources
  '53200': 'unavailable', // out_of_memory
  '53300': 'unavailable', // too_many_connections
  '57P01': 'unavailable', // admin_shutdown
  '57P02': 'unavailable', // crash_shutdown
  '57P03': 'unavailable', // cannot_connect_now (starting up, shutting down, in recovery)
  '57P05': 'unavailable', // idle_session_timeout
  '57014': 'unavailable', // query_canceled (statement_timeout)
  '40001': 'unavailable', // serialization_failure: the same request may succeed when retried
  '40P01': 'unavailable', // deadlock_detected
  '55P03': 'unavailable', // lock_not_available
  '25P03': 'unavailable', // idle_in_transaction_session_timeout
};

/** SQLite result codes (extended codes fall back to their primary code, the part before the second `_`). */
const SQLITE_KINDS: Readonly<Record<string, DatabaseErrorKind>> = {
  SQLITE_CONSTRAINT_UNIQUE: 'unique_violation',
  SQLITE_CONSTRAINT_PRIMARYKEY: 'unique_violation',
  SQLITE_CONSTRAINT_FOREIGNKEY: 'foreign_key_violation',
  SQLITE_CONSTRAINT_CHECK: 'check_violation',
  SQLITE_CONSTRAINT_NOTNULL: 'not_null_violation',
  SQLITE_CONSTRAINT_TRIGGER: 'raised',
  SQLITE_FULL: 'storage_full',
  SQLITE_BUSY: 'unavailable',
  SQLITE_LOCKED: 'unavailable',
  SQLITE_IOERR: 'unavailable',
  SQLITE_CANTOPEN: 'unavailable',
  SQLITE_NOMEM: 'unavailable',
  SQLITE_PROTOCOL: 'unavailable',
  SQLITE_READONLY: 'unavailable',
};

/** Socket errors of the connection to the database server. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * What node-postgres throws, without a code, when the connection is gone or never came: the server closed it, the
 * pool found no free connection within its connection timeout, or a client is used after its connection failed.
 */
const POSTGRES_CONNECTION_MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect/,
  /is not queryable$/,
  /^Client was closed/,
  // TypeORM: the connection failed between two statements of a transaction and its query runner let it go.
  /^Query runner already released/,
];

/** The kind of a driver error, from its code (SQLSTATE, SQLITE_*, a socket errno) or, failing that, its message. */
export function kindOf(code: string | undefined, message: string): DatabaseErrorKind {
  if (code !== undefined) {
    const known = POSTGRES_KINDS[code] ?? SQLITE_KINDS[code];
    if (known) return known;
    if (/^08[0-9A-Z]{3}$/.test(code)) return 'unavailable';
    if (code.startsWith('SQLITE_')) {
      const primary = SQLITE_KINDS[code.split('_', 2).join('_')];
      if (primary) return primary;
    }
    if (NETWORK_CODES.has(code)) return 'unavailable';
  }
  return POSTGRES_CONNECTION_MESSAGES.some((pattern) => pattern.test(message)) ? 'unavailable' : 'other';
}

/**
 * A statement failed. Every driver error leaves the db lib as one of these, so callers can tell a unique
 * violation from a broken connection without knowing the dialect; the driver's error is the `cause`.
 */
export class DatabaseError extends Error {
  override readonly name = 'DatabaseError';
  readonly code = 'database_error';

  constructor(
    message: string,
    readonly kind: DatabaseErrorKind,
    /** The driver's own code: SQLSTATE on PostgreSQL, SQLITE_* on SQLite, an errno name for a socket. */
    readonly driverCode: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  static from(error: unknown, sql: string): DatabaseError {
    if (error instanceof DatabaseError) return error;
    const driverError = (error as { driverError?: unknown }).driverError ?? error;
    const driverCode = (driverError as { code?: unknown }).code;
    const code = typeof driverCode === 'string' ? driverCode : undefined;
    const message = driverError instanceof Error ? driverError.message : String(driverError);
    return new DatabaseError(
      `${message} (in: ${sql.replace(/\s+/g, ' ').slice(0, 200)})`,
      kindOf(code, message),
      code,
      { cause: error },
    );
  }
}
