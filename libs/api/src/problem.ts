import type { RegistryErrorCode } from '@artifactstore/registry';

/** Every `code` an artifactstore response may carry in its problem+json body. */
export type ProblemCode =
  | RegistryErrorCode
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'not_acceptable'
  | 'request_timeout'
  | 'expectation_failed'
  | 'headers_too_large'
  | 'size_limit_exceeded'
  | 'range_not_satisfiable'
  | 'digest_mismatch'
  | 'incomplete_stream'
  | 'storage_error'
  | 'integrity_error'
  | 'internal_error'
  | 'service_unavailable'
  | 'tus_version_unsupported'
  | 'unsupported_media_type'
  | 'read_only_mirror'
  | 'mirror_diverged';

/** The HTTP status of each code; the switch is exhaustive, so a new code cannot ship without its status. */
export function statusOf(code: ProblemCode): number {
  switch (code) {
    case 'invalid_input':
    case 'invalid_relative_path':
    case 'incomplete_stream':
      return 400;
    case 'unauthorized':
      return 401;
    case 'forbidden':
    case 'deletion_forbidden':
      return 403;
    case 'package_not_found':
    case 'file_not_found':
    case 'manifest_not_found':
    case 'tag_not_found':
    case 'log_range_not_available':
    case 'not_found':
    case 'upload_not_found':
    case 'job_not_found':
      return 404;
    case 'not_acceptable':
      return 406;
    case 'request_timeout':
      return 408;
    case 'duplicate_relative_path':
    case 'path_conflict':
    case 'illegal_package_state':
    case 'package_held':
    case 'collector_busy':
    case 'tag_name_mismatch':
    case 'tag_immutable':
    case 'package_conflict':
    case 'read_only_mirror':
    case 'upload_offset_mismatch':
    case 'job_running':
      return 409;
    case 'package_gone':
    case 'upload_expired':
      return 410;
    case 'tus_version_unsupported':
      return 412;
    case 'size_limit_exceeded':
      return 413;
    case 'unsupported_media_type':
      return 415;
    case 'range_not_satisfiable':
      return 416;
    case 'expectation_failed':
      return 417;
    case 'unknown_retention_class':
    case 'digest_mismatch':
    case 'idempotency_key_reused':
      return 422;
    case 'upload_busy':
      return 423;
    case 'headers_too_large':
      return 431;
    case 'checksum_mismatch':
      // tus checksum extension: "460 Checksum Mismatch".
      return 460;
    case 'integrity_error':
    case 'internal_error':
      return 500;
    case 'storage_error':
      return 507;
    case 'service_unavailable':
    case 'mirror_diverged':
      return 503;
  }
}

const TITLES: Readonly<Record<ProblemCode, string>> = {
  invalid_input: 'Invalid input',
  invalid_relative_path: 'Invalid relative path',
  incomplete_stream: 'Incomplete upload',
  unauthorized: 'Unauthorized',
  forbidden: 'Forbidden',
  package_not_found: 'Package not found',
  file_not_found: 'File not found',
  manifest_not_found: 'Manifest not found',
  not_found: 'Not found',
  not_acceptable: 'Not acceptable',
  request_timeout: 'Request timeout',
  expectation_failed: 'Expectation failed',
  headers_too_large: 'Request header fields too large',
  duplicate_relative_path: 'Duplicate relative path',
  path_conflict: 'Path conflict',
  illegal_package_state: 'Illegal package state',
  package_held: 'Package held',
  package_gone: 'Package gone',
  deletion_forbidden: 'Deletion forbidden',
  collector_busy: 'Garbage collector busy',
  idempotency_key_reused: 'Idempotency key reused',
  package_conflict: 'Package id taken',
  tag_not_found: 'Tag not found',
  read_only_mirror: 'Read-only mirror',
  mirror_diverged: 'Mirror diverged from its source',
  log_range_not_available: 'Not in the log yet',
  tag_name_mismatch: 'Tag name mismatch',
  tag_immutable: 'Tag immutable',
  size_limit_exceeded: 'Size limit exceeded',
  range_not_satisfiable: 'Range not satisfiable',
  unknown_retention_class: 'Unknown retention class',
  digest_mismatch: 'Digest mismatch',
  integrity_error: 'Stored bytes damaged',
  internal_error: 'Internal error',
  storage_error: 'Insufficient storage',
  service_unavailable: 'Service unavailable',
  upload_not_found: 'Upload not found',
  upload_expired: 'Upload expired',
  upload_offset_mismatch: 'Upload offset mismatch',
  upload_busy: 'Upload busy',
  checksum_mismatch: 'Checksum mismatch',
  tus_version_unsupported: 'tus version not supported',
  unsupported_media_type: 'Unsupported media type',
  job_running: 'A job is running',
  job_not_found: 'Job not found',
};

/** An RFC 9457 problem details object as artifactstore sends it. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly code: ProblemCode;
  readonly request_id: string;
  /** Extra members for some codes (the offending field, the known retention classes …). */
  readonly [extension: string]: unknown;
}

export function problemOf(code: ProblemCode, detail: string, requestId: string, extra: object = {}): Problem {
  return {
    ...extra,
    type: `urn:artifactstore:problem:${code}`,
    title: TITLES[code],
    status: statusOf(code),
    detail,
    code,
    request_id: requestId,
  };
}

/**
 * What a 503 for a database or blob storage that cannot be used asks a client to wait: about as long as a database
 * restart takes.
 */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

/** An HTTP-level refusal (a bad header, a missing token …) raised by the api lib itself. */
export class HttpProblem extends Error {
  override readonly name = 'HttpProblem';

  constructor(
    readonly code: ProblemCode,
    detail: string,
    /** Response headers that belong to this problem (WWW-Authenticate, Content-Range …). */
    readonly headers: Readonly<Record<string, string>> = {},
    readonly extra: object = {},
  ) {
    super(detail);
  }
}
