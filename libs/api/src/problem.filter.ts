import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Response } from 'express';
import {
  DatabaseError,
  DataplaneError,
  type DataplaneErrorCode,
  DeletionForbiddenError,
  IllegalPackageStateError,
  PackageGoneError,
  InvalidInputError,
  JobRunningError,
  LogRangeError,
  PathConflictError,
  RegistryError,
  UnknownRetentionClassError,
} from '@artifactstore/registry';
import {
  HttpProblem,
  problemOf,
  statusOf,
  UNAVAILABLE_RETRY_AFTER_SECONDS,
  type Problem,
  type ProblemCode,
} from './problem.js';
import type { ApiRequest } from './principal.js';
import { adminJobLocation } from './admin-job-location.js';

/**
 * The one place where errors become responses: RFC 9457 problem+json, with the request id. Known errors keep their
 * stable code; anything else is a 500 whose body says nothing internal (the log has the details).
 */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('http');

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<ApiRequest>();
    const response = http.getResponse<Response>();
    const requestId = request.requestId ?? 'unknown';
    if (response.headersSent) {
      // A download that failed mid-stream (a corrupted blob): the status is gone, so cut the connection and the
      // client sees a short body instead of a complete-looking one.
      this.logger.error(
        `${requestId} ${request.method} ${request.path}: failed after the headers: ${describe(error)}`,
      );
      response.destroy();
      return;
    }
    // The connection, not the request stream: multer destroys the request on a malformed form while the client
    // still waits for an answer.
    if (response.destroyed || response.socket?.destroyed !== false) {
      // The client went away (a cut multipart upload): nobody to answer, and nothing wrong on our side.
      this.logger.debug(`${requestId} ${request.method} ${request.path}: client gone: ${describe(error)}`);
      return;
    }
    const { problem, headers } = toProblem(error, requestId);
    if (problem.code === 'service_unavailable' || problem.code === 'storage_error') {
      // The environment's fault, expected to pass: one line each, not a stack per request during an outage.
      const reason = error instanceof Error ? error.message : String(error);
      this.logger.warn(`${requestId} ${request.method} ${request.path}: ${problem.status}: ${reason}`);
    } else if (problem.status >= 500) {
      this.logger.error(`${requestId} ${request.method} ${request.path}: ${describe(error)}`);
    }
    response.status(problem.status);
    for (const [name, value] of Object.entries(headers)) response.setHeader(name, value);
    response.setHeader('Content-Type', 'application/problem+json');
    // A refused upload may not have been read to its end; closing beats reading gigabytes only to discard them.
    if (!request.complete) response.setHeader('Connection', 'close');
    const body = JSON.stringify(problem);
    response.setHeader('Content-Length', Buffer.byteLength(body));
    response.end(request.method === 'HEAD' ? undefined : body);
  }
}

function toProblem(error: unknown, requestId: string): { problem: Problem; headers: Record<string, string> } {
  if (error instanceof HttpProblem) {
    return {
      problem: problemOf(error.code, error.message, requestId, error.extra),
      headers: { ...error.headers },
    };
  }
  if (error instanceof JobRunningError) {
    // The running job's URL, to wait for it instead.
    const location = adminJobLocation(error.jobId);
    return {
      problem: problemOf(error.code, error.message, requestId, { job: location }),
      headers: { Location: location },
    };
  }
  if (error instanceof RegistryError) {
    return { problem: problemOf(error.code, error.message, requestId, registryExtras(error)), headers: {} };
  }
  if (error instanceof DatabaseError) {
    const outcome = databaseOutcome(error, requestId);
    if (outcome) return outcome;
  }
  if (error instanceof DataplaneError) {
    const code = dataplaneCode(error.code);
    // A 5xx says nothing internal (a storage error's text names folders and buckets); the log has it.
    const detail =
      statusOf(code) >= 500
        ? code === 'integrity_error'
          ? `the stored bytes failed verification against their BLAKE3 digest; quote request id ${requestId}`
          : `the server could not store or read the bytes; quote request id ${requestId}`
        : error.message;
    return { problem: problemOf(code, detail, requestId), headers: {} };
  }
  const code = httpErrorCode(error);
  if (code) return { problem: problemOf(code, httpErrorDetail(error, code), requestId), headers: {} };
  return {
    problem: problemOf('internal_error', `something went wrong; quote request id ${requestId}`, requestId),
    headers: {},
  };
}

/**
 * A database that cannot be reached or used is a 503 with Retry-After, one that is out of space a 507, like a full
 * blob store: both say "not now", so a client retries instead of giving up. Anything else it raised is our bug.
 */
function databaseOutcome(
  error: DatabaseError,
  requestId: string,
): { problem: Problem; headers: Record<string, string> } | undefined {
  switch (error.kind) {
    case 'unavailable':
      return {
        problem: problemOf(
          'service_unavailable',
          `the database cannot be reached or is busy; retry later (request id ${requestId})`,
          requestId,
        ),
        headers: { 'Retry-After': String(UNAVAILABLE_RETRY_AFTER_SECONDS) },
      };
    case 'storage_full':
      return {
        problem: problemOf(
          'storage_error',
          `the database is out of space; nothing was stored (request id ${requestId})`,
          requestId,
        ),
        headers: {},
      };
    case 'unique_violation':
    case 'foreign_key_violation':
    case 'check_violation':
    case 'not_null_violation':
    case 'raised':
    case 'other':
      return undefined;
  }
}

function registryExtras(error: RegistryError): object {
  if (error instanceof InvalidInputError) return { field: error.field };
  if (error instanceof UnknownRetentionClassError) return { known_retention_classes: error.known };
  if (error instanceof IllegalPackageStateError) return { package_status: error.status };
  if (error instanceof PackageGoneError) return { package_status: error.status };
  if (error instanceof DeletionForbiddenError) return { package_status: error.status };
  if (error instanceof PathConflictError) return { conflicts_with: error.conflictsWith };
  if (error instanceof LogRangeError) return { tree_size: error.treeSize };
  return {};
}

function dataplaneCode(code: DataplaneErrorCode): ProblemCode {
  switch (code) {
    case 'digest_mismatch':
    case 'size_limit_exceeded':
    case 'incomplete_stream':
    case 'range_not_satisfiable':
    case 'storage_error':
    case 'integrity_error':
      return code;
    case 'blob_not_found':
      // A file's bytes are gone from storage: our fault, not the client's.
      return 'internal_error';
  }
}

/**
 * Errors raised before our code runs: Nest's own (an unknown route) and Express's (a malformed body or a
 * malformed percent-encoding in the path, http-errors with a 4xx `status`).
 */
function httpErrorCode(error: unknown): ProblemCode | undefined {
  const status =
    error instanceof HttpException
      ? error.getStatus()
      : typeof error === 'object' && error !== null && 'status' in error && typeof error.status === 'number'
        ? error.status
        : undefined;
  if (status === undefined || status < 400 || status >= 500) return undefined;
  if (status === 404) return 'not_found';
  if (status === 413) return 'size_limit_exceeded';
  if (status === 406) return 'not_acceptable';
  return 'invalid_input';
}

function httpErrorDetail(error: unknown, code: ProblemCode): string {
  if (code === 'not_found') return 'no such route';
  const type = typeof error === 'object' && error !== null && 'type' in error ? error.type : undefined;
  if (type === 'entity.parse.failed') return 'the body is not valid JSON';
  if (type === 'entity.too.large') return 'the JSON body is too large';
  return error instanceof Error ? error.message : 'bad request';
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
