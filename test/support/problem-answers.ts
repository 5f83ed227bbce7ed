import type { ProblemCode } from '@artifactstore/api';

/**
 * Every code of `ProblemCode`, as a value. A Record over the union: adding a code to the type without adding it
 * here, or listing one the type does not have, fails the type check.
 */
const KNOWN: Readonly<Record<ProblemCode, true>> = {
  invalid_input: true,
  invalid_relative_path: true,
  unknown_retention_class: true,
  package_not_found: true,
  illegal_package_state: true,
  package_held: true,
  package_gone: true,
  deletion_forbidden: true,
  collector_busy: true,
  idempotency_key_reused: true,
  package_conflict: true,
  tag_not_found: true,
  log_range_not_available: true,
  read_only_mirror: true,
  mirror_diverged: true,
  tag_name_mismatch: true,
  tag_immutable: true,
  duplicate_relative_path: true,
  path_conflict: true,
  file_not_found: true,
  manifest_not_found: true,
  unauthorized: true,
  forbidden: true,
  not_found: true,
  not_acceptable: true,
  request_timeout: true,
  expectation_failed: true,
  headers_too_large: true,
  size_limit_exceeded: true,
  range_not_satisfiable: true,
  digest_mismatch: true,
  incomplete_stream: true,
  storage_error: true,
  integrity_error: true,
  internal_error: true,
  service_unavailable: true,
  upload_not_found: true,
  upload_expired: true,
  upload_offset_mismatch: true,
  upload_busy: true,
  checksum_mismatch: true,
  tus_version_unsupported: true,
  unsupported_media_type: true,
  job_running: true,
  job_not_found: true,
};

export const KNOWN_PROBLEM_CODES: ReadonlySet<string> = new Set(Object.keys(KNOWN));

/** An answer as the fault tests see it, whichever client received it. */
export interface Answer {
  readonly status: number;
  /** Lowercased names. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

/**
 * What is wrong with an error answer, or undefined when it is a sound RFC 9457 problem: Content-Type
 * application/problem+json, a JSON object whose `code` is a known ProblemCode and whose `status` is the answer's,
 * and `request_id` equal to the X-Request-Id header. A HEAD answer has no body, so only its header is checked.
 */
export function problemFault(answer: Answer, method = 'GET'): string | undefined {
  const contentType = String(answer.headers['content-type'] ?? '');
  if (!/^application\/problem\+json(;|$)/.test(contentType)) {
    return `${answer.status} with Content-Type ${JSON.stringify(contentType)}, not application/problem+json; body ${preview(answer.body)}`;
  }
  if (method === 'HEAD') return undefined;
  let body: unknown;
  try {
    body = JSON.parse(answer.body.toString('utf8'));
  } catch {
    return `${answer.status} whose problem body is not JSON: ${preview(answer.body)}`;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return `${answer.status} whose problem body is not an object: ${preview(answer.body)}`;
  }
  const problem = body as Record<string, unknown>;
  if (typeof problem.code !== 'string' || !KNOWN_PROBLEM_CODES.has(problem.code)) {
    return `${answer.status} with unknown code ${JSON.stringify(problem.code)}: ${preview(answer.body)}`;
  }
  if (problem.status !== answer.status) {
    return `${answer.status} whose body says status ${JSON.stringify(problem.status)}: ${preview(answer.body)}`;
  }
  if (problem.type !== `urn:artifactstore:problem:${problem.code}`) {
    return `${answer.status} with type ${JSON.stringify(problem.type)}: ${preview(answer.body)}`;
  }
  const requestId = answer.headers['x-request-id'];
  if (typeof requestId !== 'string' || problem.request_id !== requestId) {
    return `${answer.status} whose request_id ${JSON.stringify(problem.request_id)} is not X-Request-Id ${JSON.stringify(requestId)}`;
  }
  return undefined;
}

/** The `code` of a problem body, if it has one. */
export function problemCodeOf(body: Buffer): string | undefined {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { code?: unknown };
    return typeof parsed.code === 'string' ? parsed.code : undefined;
  } catch {
    return undefined;
  }
}

function preview(body: Buffer): string {
  const text = body.toString('utf8');
  return JSON.stringify(text.length > 300 ? `${text.slice(0, 300)}…` : text);
}
