/**
 * Every error the registry throws on purpose: a stable `code` (the API maps it to a status with an exhaustive
 * switch) and a message meant for the person who sent the request. They know nothing of HTTP.
 */
export abstract class RegistryError extends Error {
  abstract readonly code: RegistryErrorCode;
}

export type RegistryErrorCode =
  | 'invalid_input'
  | 'unknown_retention_class'
  | 'package_not_found'
  | 'illegal_package_state'
  | 'package_held'
  | 'package_gone'
  | 'deletion_forbidden'
  | 'collector_busy'
  | 'idempotency_key_reused'
  | 'package_conflict'
  | 'tag_not_found'
  | 'tag_name_mismatch'
  | 'tag_immutable'
  | 'invalid_relative_path'
  | 'duplicate_relative_path'
  | 'path_conflict'
  | 'file_not_found'
  | 'manifest_not_found'
  | 'upload_not_found'
  | 'upload_expired'
  | 'upload_offset_mismatch'
  | 'upload_busy'
  | 'checksum_mismatch'
  | 'log_range_not_available'
  | 'job_running'
  | 'job_not_found';

/** A field of a request breaks a rule. `field` names it, as the caller spelled it. */
export class InvalidInputError extends RegistryError {
  readonly code = 'invalid_input';
  override readonly name = 'InvalidInputError';

  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

export class UnknownRetentionClassError extends RegistryError {
  readonly code = 'unknown_retention_class';
  override readonly name = 'UnknownRetentionClassError';

  constructor(
    readonly retentionClass: string,
    readonly known: readonly string[],
  ) {
    super(`unknown retention class ${JSON.stringify(retentionClass)}; known: ${known.join(', ')}`);
  }
}

export class PackageNotFoundError extends RegistryError {
  readonly code = 'package_not_found';
  override readonly name = 'PackageNotFoundError';

  constructor(readonly packageId: string) {
    super(`package ${packageId} does not exist`);
  }
}

/** The package is not in the state the operation needs (adding a file to a finalized package, finalizing twice …). */
export class IllegalPackageStateError extends RegistryError {
  readonly code = 'illegal_package_state';
  override readonly name = 'IllegalPackageStateError';

  constructor(
    readonly packageId: string,
    readonly status: PackageStatus,
    operation: string,
  ) {
    super(`cannot ${operation}: package ${packageId} is ${status}`);
  }
}

/** A package's life: `created` → `finalized` → `expired`; `created` or `finalized` → `deleted`; `created` → `expired`. */
export const PACKAGE_STATUSES = ['created', 'finalized', 'expired', 'deleted'] as const;
export type PackageStatus = (typeof PACKAGE_STATUSES)[number];

/** A held package cannot be deleted (nor expire) until it is released. */
export class PackageHeldError extends RegistryError {
  readonly code = 'package_held';
  override readonly name = 'PackageHeldError';
  constructor(
    readonly packageId: string,
    readonly reason: string,
  ) {
    super(`package ${packageId} is held${reason === '' ? '' : ` (${reason})`}; release it first`);
  }
}

/** The package expired or was deleted: its metadata stays readable, its files are no longer served. */
export class PackageGoneError extends RegistryError {
  readonly code = 'package_gone';
  override readonly name = 'PackageGoneError';
  constructor(
    readonly packageId: string,
    readonly status: PackageStatus,
  ) {
    super(`package ${packageId} is ${status}: its files are no longer served`);
  }
}

/** A producer may delete (abort) only a package that is still `created`; deleting others takes an admin. */
export class DeletionForbiddenError extends RegistryError {
  readonly code = 'deletion_forbidden';
  override readonly name = 'DeletionForbiddenError';
  constructor(
    readonly packageId: string,
    readonly status: PackageStatus,
  ) {
    super(`package ${packageId} is ${status}: only an admin may delete it`);
  }
}

export class TagNotFoundError extends RegistryError {
  readonly code = 'tag_not_found';
  override readonly name = 'TagNotFoundError';
  constructor(
    readonly packageName: string,
    readonly tag: string,
  ) {
    super(`there is no tag ${packageName}:${tag}`);
  }
}

/** A tag of name N may point only at a package named N. */
export class TagNameMismatchError extends RegistryError {
  readonly code = 'tag_name_mismatch';
  override readonly name = 'TagNameMismatchError';
  constructor(
    readonly packageName: string,
    readonly tag: string,
    readonly packageId: string,
    readonly actualName: string,
  ) {
    super(
      `tag ${packageName}:${tag} cannot point at package ${packageId}, which is named ${JSON.stringify(actualName)}`,
    );
  }
}

/** The tag matches ARTIFACTSTORE_IMMUTABLE_TAGS: once set it neither moves nor goes. */
export class TagImmutableError extends RegistryError {
  readonly code = 'tag_immutable';
  override readonly name = 'TagImmutableError';
  constructor(
    readonly packageName: string,
    readonly tag: string,
  ) {
    super(`tag ${packageName}:${tag} is immutable (ARTIFACTSTORE_IMMUTABLE_TAGS)`);
  }
}

/** An Idempotency-Key the actor already used for a create with other fields. */
export class IdempotencyKeyReusedError extends RegistryError {
  readonly code = 'idempotency_key_reused';
  override readonly name = 'IdempotencyKeyReusedError';
  constructor(readonly key: string) {
    super(
      `the Idempotency-Key ${JSON.stringify(key)} was used for a package with other fields; use a new key`,
    );
  }
}

/**
 * A create that names its package id (a bundle's import keeps the source's ids) found that id taken: by a package
 * of any state, since a deleted or expired package keeps its id, its events and its manifest.
 */
export class PackageConflictError extends RegistryError {
  readonly code = 'package_conflict';
  override readonly name = 'PackageConflictError';
  constructor(readonly packageId: string) {
    super(`package ${packageId} already exists; a package id is used once`);
  }
}

/** Another process runs the garbage collector right now (PostgreSQL's advisory lock is taken). */
export class CollectorBusyError extends RegistryError {
  readonly code = 'collector_busy';
  override readonly name = 'CollectorBusyError';
  constructor() {
    super('another server process is running the garbage collector; try again when it is done');
  }
}

export class InvalidRelativePathError extends RegistryError {
  readonly code = 'invalid_relative_path';
  override readonly name = 'InvalidRelativePathError';

  constructor(
    readonly relativePath: string,
    readonly reason: string,
  ) {
    super(`invalid relative path ${JSON.stringify(relativePath)}: ${reason}`);
  }
}

export class DuplicateRelativePathError extends RegistryError {
  readonly code = 'duplicate_relative_path';
  override readonly name = 'DuplicateRelativePathError';

  constructor(
    readonly packageId: string,
    readonly relativePath: string,
  ) {
    super(`package ${packageId} already has a file at ${JSON.stringify(relativePath)}`);
  }
}

/**
 * The package could not be written out with both paths: one would be both a file and a directory (`a` beside
 * `a/b`), or, under the portable path policy, they or two of their directories differ only by letter case
 * (`A.txt` beside `a.txt`, `Dir/x` beside `dir/y`). `conflictsWith` is the package's file in the way.
 */
export class PathConflictError extends RegistryError {
  readonly code = 'path_conflict';
  override readonly name = 'PathConflictError';

  constructor(
    readonly relativePath: string,
    readonly conflictsWith: string,
    readonly reason = 'a path cannot be both a file and a directory',
  ) {
    super(`${JSON.stringify(relativePath)} conflicts with ${JSON.stringify(conflictsWith)}: ${reason}`);
  }
}

export class FileNotFoundError extends RegistryError {
  readonly code = 'file_not_found';
  override readonly name = 'FileNotFoundError';

  constructor(what: string) {
    super(`file ${what} does not exist`);
  }
}

export class ManifestNotFoundError extends RegistryError {
  readonly code = 'manifest_not_found';
  override readonly name = 'ManifestNotFoundError';

  constructor(readonly contentAddress: string) {
    super(`no package has the content address ${contentAddress}`);
  }
}

/** A tile or entry bundle the log does not have yet (beyond its size), or a tree size it has not reached. */
export class LogRangeError extends RegistryError {
  readonly code = 'log_range_not_available';
  override readonly name = 'LogRangeError';

  constructor(
    message: string,
    readonly treeSize: number,
  ) {
    super(message);
  }
}

/** An admin job (replay, verify) is running in this process: one at a time. `jobId` names it. */
export class JobRunningError extends RegistryError {
  readonly code = 'job_running';
  override readonly name = 'JobRunningError';

  constructor(
    readonly jobId: string,
    readonly kind: string,
  ) {
    super(`a ${kind} job is running (${jobId}); wait for it to end`);
  }
}

/** No admin job of that id: this process never ran it, or it is older than the jobs it keeps. */
export class JobNotFoundError extends RegistryError {
  readonly code = 'job_not_found';
  override readonly name = 'JobNotFoundError';

  constructor(readonly jobId: string) {
    super(`there is no job ${jobId} (a server process keeps its running job and its last finished ones)`);
  }
}
