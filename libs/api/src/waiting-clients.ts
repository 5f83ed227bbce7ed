import { Injectable } from '@nestjs/common';
import { AppConfig } from '@artifactstore/config';
import { HttpProblem } from './problem.js';

/** What holds a request open waiting for events: the long-poll of GET /v1/events?wait, or an SSE stream. */
export type WaitingClientKind = 'long_poll' | 'event_stream';

/** One place among the waiting clients. */
export interface WaitingClientLease {
  /** Aborted when the server shuts down: answer (or end the stream) at once. */
  readonly signal: AbortSignal;
  /** Gives the place back; call it exactly when the request stops waiting (calling it again does nothing). */
  release(): void;
}

/** Seconds a refused client is asked to wait before trying again. */
export const WAITING_CLIENTS_RETRY_AFTER_SECONDS = 5;

/**
 * The bound on requests held open waiting for events (ARTIFACTSTORE_MAX_WAITING_CLIENTS), shared by long-polls
 * and SSE streams so that neither can starve the other's file descriptors and tails, and their shutdown switch.
 */
@Injectable()
export class WaitingClients {
  private readonly held = new Map<WaitingClientKind, number>([
    ['long_poll', 0],
    ['event_stream', 0],
  ]);
  private readonly shutdown = new AbortController();

  constructor(private readonly config: AppConfig) {}

  /** A place, or undefined when ARTIFACTSTORE_MAX_WAITING_CLIENTS are already waiting. */
  tryAcquire(kind: WaitingClientKind): WaitingClientLease | undefined {
    if (this.total >= this.config.maxWaitingClients) return undefined;
    this.held.set(kind, this.count(kind) + 1);
    let released = false;
    return {
      signal: this.shutdown.signal,
      release: () => {
        if (released) return;
        released = true;
        this.held.set(kind, this.count(kind) - 1);
      },
    };
  }

  /** Like tryAcquire, but refuses with 503 `service_unavailable` and Retry-After when no place is free. */
  acquire(kind: WaitingClientKind): WaitingClientLease {
    const lease = this.tryAcquire(kind);
    if (lease) return lease;
    throw new HttpProblem(
      'service_unavailable',
      `${this.config.maxWaitingClients} clients are already waiting for events; try again shortly`,
      { 'Retry-After': String(WAITING_CLIENTS_RETRY_AFTER_SECONDS) },
    );
  }

  /** Clients of `kind` waiting now. */
  count(kind: WaitingClientKind): number {
    return this.held.get(kind) ?? 0;
  }

  get total(): number {
    let sum = 0;
    for (const count of this.held.values()) sum += count;
    return sum;
  }

  /** Shutdown: every lease's signal aborts, so every waiting client is answered; later leases start aborted. */
  endAll(): void {
    this.shutdown.abort();
  }
}
