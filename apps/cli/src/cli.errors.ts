/** Exit statuses of every command (README "Command-line client"). */
export const EXIT = {
  ok: 0,
  invalidInput: 1,
  notFound: 2,
  conflict: 3,
  integrity: 4,
  unreachable: 5,
} as const;

export type ExitStatus = (typeof EXIT)[keyof typeof EXIT];

/**
 * A failure the CLI reports as one line, `artifactstore: <code>: <detail>`, and exits with `exitStatus`. Codes are
 * the server's problem codes where there is one, so the same failure reads the same with or without `--local`.
 */
export class CliError extends Error {
  override readonly name = 'CliError';

  constructor(
    readonly code: string,
    message: string,
    readonly exitStatus: ExitStatus = exitStatusOf(code),
    /** The server's problem+json members beyond code and detail (a 409 `job_running`'s `job`, …). */
    readonly problem: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
  }
}

/** The exit status for a problem code, falling back on the HTTP status when the code is not one we know. */
export function exitStatusOf(code: string, httpStatus?: number): ExitStatus {
  switch (code) {
    case 'invalid_input':
    case 'invalid_relative_path':
    case 'unknown_retention_class':
    case 'size_limit_exceeded':
    case 'range_not_satisfiable':
    case 'not_acceptable':
    case 'invalid_manifest':
    case 'usage':
      return EXIT.invalidInput;
    case 'package_not_found':
    case 'file_not_found':
    case 'manifest_not_found':
    case 'tag_not_found':
    case 'not_found':
    case 'local_file_not_found':
    case 'package_gone':
    case 'log_range_not_available':
    case 'job_not_found':
      return EXIT.notFound;
    // idempotency_key_reused: a key that one push generated, sent with another body; not the user's input, so not 1.
    case 'illegal_package_state':
    case 'package_held':
    case 'duplicate_relative_path':
    case 'path_conflict':
    case 'resume_mismatch':
    case 'tag_name_mismatch':
    case 'tag_immutable':
    case 'idempotency_key_reused':
    case 'package_conflict':
    case 'job_running':
      return EXIT.conflict;
    case 'digest_mismatch':
    case 'incomplete_stream':
    case 'integrity_error':
    case 'blob_not_found':
    case 'download_incomplete':
    case 'manifest_mismatch':
    case 'verify_failed':
    case 'chain_broken':
    case 'unsafe_path':
    case 'scrub_found_damage':
    case 'receipt_invalid':
    case 'checkpoint_invalid':
    case 'log_inconsistent':
    case 'bundle_invalid':
      return EXIT.integrity;
    // Also the conditions to try again later: another process collecting garbage, a scrub pass that failed.
    case 'server_unreachable':
    case 'unauthorized':
    case 'forbidden':
    case 'deletion_forbidden':
    case 'service_unavailable':
    case 'collector_busy':
    case 'scrub_failed':
      return EXIT.unreachable;
    default:
      if (httpStatus === 401 || httpStatus === 403) return EXIT.unreachable;
      if (httpStatus === 404 || httpStatus === 410) return EXIT.notFound;
      if (httpStatus === 409) return EXIT.conflict;
      return EXIT.invalidInput;
  }
}

/** Any error as a CliError: ours as they are, the registry's and the dataplane's by their `code`. */
export function asCliError(error: unknown): CliError {
  if (error instanceof CliError) return error;
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && /^[a-z_]+$/.test(code)) return new CliError(code, error.message);
    if (typeof code === 'string' && ['ENOENT', 'ENOTDIR'].includes(code)) {
      return new CliError('local_file_not_found', error.message);
    }
    return new CliError('internal_error', error.message);
  }
  return new CliError('internal_error', String(error));
}
