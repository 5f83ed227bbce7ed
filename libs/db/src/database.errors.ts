/** What kind of failure a statement hit, the same on both dialects. */
export type DatabaseErrorKind =
  | 'unique_violation'
  | 'foreign_key_violation'
  | 'check_violation'
  | 'not_null_violation'
  | 'raised'
  | 'other';

const POSTGRES_KINDS: Record<string, DatabaseErrorKind> = {
  '23505': 'unique_violation',
  '23503': 'foreign_key_violation',
  '23514': 'check_violation',
  '23502': 'not_null_violation',
  P0001: 'raised',
};

const SQLITE_KINDS: Record<string, DatabaseErrorKind> = {
  SQLITE_CONSTRAINT_UNIQUE: 'unique_violation',
  SQLITE_CONSTRAINT_PRIMARYKEY: 'unique_violation',
  SQLITE_CONSTRAINT_FOREIGNKEY: 'foreign_key_violation',
  SQLITE_CONSTRAINT_CHECK: 'check_violation',
  SQLITE_CONSTRAINT_NOTNULL: 'not_null_violation',
  SQLITE_CONSTRAINT_TRIGGER: 'raised',
};

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
    /** The driver's own code: SQLSTATE on PostgreSQL, SQLITE_* on SQLite. */
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
    const kind = (code && (POSTGRES_KINDS[code] ?? SQLITE_KINDS[code])) || 'other';
    const message = driverError instanceof Error ? driverError.message : String(driverError);
    return new DatabaseError(`${message} (in: ${sql.replace(/\s+/g, ' ').slice(0, 200)})`, kind, code, {
      cause: error,
    });
  }
}
