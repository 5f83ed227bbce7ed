import { DatabaseError } from '@artifactstore/db';
import type { ChainVerification } from '@artifactstore/events';
import { ProjectionError } from '@artifactstore/views';
import type { ReplayReport } from './log-operations.service.js';
import { RegistryError, type RegistryErrorCode } from './registry.errors.js';

export const ADMIN_JOB_KINDS = ['replay', 'verify'] as const;
/** `replay` rebuilds every view from the log; `verify` checks every payload and chain digest of it. */
export type AdminJobKind = (typeof ADMIN_JOB_KINDS)[number];
export type AdminJobState = 'running' | 'succeeded' | 'failed';

/** What a replay found: the views' state digest before and after (equal unless the views had drifted). */
export interface ReplayJobResult {
  /** The highest sequence replayed (0 for an empty log). */
  readonly highest_sequence: number;
  readonly state_digest_before: string;
  readonly state_digest_after: string;
  readonly identical: boolean;
  readonly duration_ms: number;
}

/** What a verification found: the chain is sound to its head, or the first event that does not match. */
export interface VerifyJobResult {
  readonly ok: boolean;
  readonly events_checked: number;
  readonly first_bad_sequence: number | null;
  /** The last event checked, when the chain is sound. */
  readonly head_sequence: number | null;
  /** Its chain digest, hex: two stores with the same head and digest hold the same log. */
  readonly head_chain_digest: string | null;
}

/**
 * Why a job failed, as a problem's `code` and `detail`: a registry code, `projection_error` (the log holds an event
 * its view refuses; the views stay as they were), `service_unavailable` (the database could not be used, or the
 * server stopped during the job: start it again), `storage_error` (the database is full), or `internal_error`.
 */
export type AdminJobErrorCode =
  RegistryErrorCode | 'projection_error' | 'service_unavailable' | 'storage_error' | 'internal_error';

export interface AdminJobError {
  readonly code: AdminJobErrorCode;
  readonly detail: string;
}

export interface AdminJobProgress {
  /** The sequence of the last event the job has dealt with: a position in the log, not a count. */
  readonly events_done: number;
  /** The log's head sequence when the job started (raised should the job pass it: events appended meanwhile). */
  readonly events_total: number;
}

interface AdminJobFields {
  /** A UUIDv7. */
  readonly id: string;
  readonly state: AdminJobState;
  readonly progress: AdminJobProgress;
  /** RFC 3339, UTC. */
  readonly started_at: string;
  /** null while running. */
  readonly finished_at: string | null;
  /** null unless `state` is `failed`. */
  readonly error: AdminJobError | null;
}

/** A job as the API shows it; `result` is null until it has succeeded. */
export type AdminJob =
  | (AdminJobFields & { readonly kind: 'replay'; readonly result: ReplayJobResult | null })
  | (AdminJobFields & { readonly kind: 'verify'; readonly result: VerifyJobResult | null });

/** What a job that succeeded produced, by kind. */
export type AdminJobOutcome =
  | { readonly kind: 'replay'; readonly result: ReplayJobResult }
  | { readonly kind: 'verify'; readonly result: VerifyJobResult };

/** One job's state, updated as it runs. */
export class AdminJobRecord {
  private state: AdminJobState = 'running';
  private eventsDone = 0;
  private eventsTotal = 0;
  private finishedAt: string | null = null;
  private outcome: AdminJobOutcome | undefined;
  private error: AdminJobError | null = null;

  constructor(
    readonly id: string,
    readonly kind: AdminJobKind,
    private readonly startedAt: string,
  ) {}

  get running(): boolean {
    return this.state === 'running';
  }

  /** The log's head when the job starts: what `events_done` will reach. */
  setTotal(headSequence: number): void {
    this.eventsTotal = Math.max(this.eventsDone, headSequence);
  }

  /** The job has dealt with every event up to `sequence`. */
  advance(sequence: number): void {
    this.eventsDone = Math.max(this.eventsDone, sequence);
    this.eventsTotal = Math.max(this.eventsTotal, this.eventsDone);
  }

  succeed(outcome: AdminJobOutcome, at: string): void {
    if (outcome.kind !== this.kind)
      throw new TypeError(`a ${this.kind} job cannot end with a ${outcome.kind} result`);
    this.state = 'succeeded';
    this.outcome = outcome;
    this.finishedAt = at;
  }

  fail(error: AdminJobError, at: string): void {
    this.state = 'failed';
    this.error = error;
    this.finishedAt = at;
  }

  snapshot(): AdminJob {
    const common = {
      state: this.state,
      progress: { events_done: this.eventsDone, events_total: this.eventsTotal },
      started_at: this.startedAt,
      finished_at: this.finishedAt,
    };
    switch (this.kind) {
      case 'replay':
        return {
          id: this.id,
          kind: 'replay',
          ...common,
          result: this.outcome?.kind === 'replay' ? this.outcome.result : null,
          error: this.error,
        };
      case 'verify':
        return {
          id: this.id,
          kind: 'verify',
          ...common,
          result: this.outcome?.kind === 'verify' ? this.outcome.result : null,
          error: this.error,
        };
    }
  }
}

export function replayResultOf(report: ReplayReport, durationMs: number): ReplayJobResult {
  return {
    highest_sequence: report.head_sequence,
    state_digest_before: report.state_digest_before,
    state_digest_after: report.state_digest_after,
    identical: report.state_digest_before === report.state_digest_after,
    duration_ms: Math.round(durationMs),
  };
}

export function verifyResultOf(verification: ChainVerification): VerifyJobResult {
  return {
    ok: verification.ok,
    events_checked: verification.eventsChecked,
    first_bad_sequence: verification.ok ? null : verification.sequence,
    head_sequence: verification.ok ? verification.headSequence : null,
    head_chain_digest: verification.ok ? verification.headChainDigest.toString('hex') : null,
  };
}

/**
 * The problem a failed job reports. Errors with a stable meaning keep it and their message; anything else is an
 * `internal_error` that says nothing internal (the server log has the details, under the job's id).
 */
export function jobErrorOf(
  error: unknown,
  job: { id: string; kind: AdminJobKind },
  stopped: boolean,
): AdminJobError {
  if (stopped) {
    return {
      code: 'service_unavailable',
      detail: `the server stopped during the ${job.kind}; start it again`,
    };
  }
  if (error instanceof RegistryError) return { code: error.code, detail: error.message };
  if (error instanceof ProjectionError) return { code: 'projection_error', detail: error.message };
  if (error instanceof DatabaseError) {
    if (error.kind === 'unavailable') {
      return {
        code: 'service_unavailable',
        detail: `the database could not be reached or used during the ${job.kind}; start it again`,
      };
    }
    if (error.kind === 'storage_full') {
      return { code: 'storage_error', detail: `the database ran out of space during the ${job.kind}` };
    }
  }
  return {
    code: 'internal_error',
    detail: `the ${job.kind} failed; the server log has the details under job ${job.id}`,
  };
}
