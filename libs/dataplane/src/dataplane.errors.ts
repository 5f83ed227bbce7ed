/** Every code a dataplane error may carry; the API maps each one, exhaustively. */
export type DataplaneErrorCode =
  | 'digest_mismatch'
  | 'size_limit_exceeded'
  | 'incomplete_stream'
  | 'storage_error'
  | 'integrity_error'
  | 'blob_not_found'
  | 'range_not_satisfiable';

/** Every error the dataplane throws: a stable `code` for the API to map, and a message for people. */
export abstract class DataplaneError extends Error {
  abstract readonly code: DataplaneErrorCode;
}

/** The bytes do not have the digest the caller declared. Nothing was stored. */
export class DigestMismatchError extends DataplaneError {
  readonly code = 'digest_mismatch';
  override readonly name = 'DigestMismatchError';

  constructor(
    readonly algorithm: 'blake3' | 'sha256',
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`${algorithm} mismatch: expected ${expected}, got ${actual}`);
  }
}

/** More bytes arrived than the limit (or the declared size) allows. Nothing was stored. */
export class SizeLimitExceededError extends DataplaneError {
  readonly code = 'size_limit_exceeded';
  override readonly name = 'SizeLimitExceededError';

  constructor(readonly limit: number) {
    super(`the stream is larger than ${limit} bytes`);
  }
}

/** The source failed or ended before the declared size (a client that disconnected). Nothing was stored. */
export class IncompleteStreamError extends DataplaneError {
  readonly code = 'incomplete_stream';
  override readonly name = 'IncompleteStreamError';
}

/** The storage backend failed (disk full, permissions, I/O). Nothing was stored. */
export class StorageError extends DataplaneError {
  readonly code = 'storage_error';
  override readonly name = 'StorageError';
}

/** A stored blob no longer has the digest it is stored under. The read was cut before its last bytes. */
export class IntegrityError extends DataplaneError {
  readonly code = 'integrity_error';
  override readonly name = 'IntegrityError';
}

/** No blob is stored under this key. */
export class BlobNotFoundError extends DataplaneError {
  readonly code = 'blob_not_found';
  override readonly name = 'BlobNotFoundError';

  constructor(readonly key: string) {
    super(`no blob under key ${key}`);
  }
}

/** The requested byte range lies outside the blob. */
export class RangeNotSatisfiableError extends DataplaneError {
  readonly code = 'range_not_satisfiable';
  override readonly name = 'RangeNotSatisfiableError';

  constructor(
    readonly size: number,
    message: string,
  ) {
    super(message);
  }
}
