import { DatabaseError, kindOf } from './database.errors.js';

describe('kindOf', () => {
  it.each([
    ['23505', 'unique_violation'],
    ['SQLITE_CONSTRAINT_PRIMARYKEY', 'unique_violation'],
    ['53100', 'storage_full'],
    ['SQLITE_FULL', 'storage_full'],
    ['08006', 'unavailable'],
    ['08P01', 'unavailable'],
    ['57P01', 'unavailable'],
    ['57P03', 'unavailable'],
    ['53300', 'unavailable'],
    ['40001', 'unavailable'],
    ['SQLITE_BUSY', 'unavailable'],
    ['SQLITE_BUSY_SNAPSHOT', 'unavailable'],
    ['SQLITE_IOERR_WRITE', 'unavailable'],
    ['ECONNREFUSED', 'unavailable'],
    ['ECONNRESET', 'unavailable'],
    ['42601', 'other'],
    ['SQLITE_ERROR', 'other'],
  ])('%s is %s', (code, kind) => {
    expect(kindOf(code, 'any message')).toBe(kind);
  });

  it.each([
    ['Connection terminated unexpectedly', 'unavailable'],
    ['timeout exceeded when trying to connect', 'unavailable'],
    ['Client has encountered a connection error and is not queryable', 'unavailable'],
    ['syntax error at or near "x"', 'other'],
  ])('a driver error without a code saying %j is %s', (message, kind) => {
    expect(kindOf(undefined, message)).toBe(kind);
  });
});

describe('DatabaseError.from', () => {
  it("takes the code of TypeORM's wrapped driver error and names the statement", () => {
    const driverError = Object.assign(new Error('disk full'), { code: '53100' });
    const error = DatabaseError.from({ driverError }, 'INSERT INTO events\n  VALUES (?)');
    expect(error).toMatchObject({ kind: 'storage_full', driverCode: '53100' });
    expect(error.message).toBe('disk full (in: INSERT INTO events VALUES (?))');
    expect(DatabaseError.from(error, 'other')).toBe(error);
  });
});
