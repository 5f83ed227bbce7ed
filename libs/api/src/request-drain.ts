import type { Server } from 'node:http';
import { Injectable, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { WaitingClients } from './waiting-clients.js';

/** After the deadline cut the connections, how long handlers get to clean up (remove a half-written upload). */
const CLEANUP_MS = 10_000;

/**
 * Graceful shutdown of the HTTP side. Every request is in flight from its arrival until both its response has
 * closed and its handler has settled (an upload's handler still removes its temporary file after the client is
 * gone), so `drain` waits for the work, not just the sockets.
 */
@Injectable()
export class RequestDrain {
  private readonly logger = new Logger('shutdown');
  private readonly responses = new Set<Response>();
  private inFlight = 0;
  private idleListeners: (() => void)[] = [];
  private draining = false;

  constructor(private readonly waitingClients: WaitingClients) {}

  /** Marks a piece of a request's work as started; call the returned function (idempotent) when it ends. */
  begin(): () => void {
    this.inFlight++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.inFlight--;
      if (this.inFlight === 0) {
        const listeners = this.idleListeners;
        this.idleListeners = [];
        for (const listener of listeners) listener();
      }
    };
  }

  /** Tracks a response until it closes, asking for `Connection: close` once the server drains. */
  trackResponse(response: Response): void {
    const end = this.begin();
    this.responses.add(response);
    if (this.draining) response.setHeader('Connection', 'close');
    response.once('close', () => {
      this.responses.delete(response);
      end();
    });
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /**
   * Stops accepting connections, answers every waiting client (long-polls, event streams) at once, lets the
   * other requests finish for up to `graceMs`, then cuts the connections still open and waits for their handlers
   * to clean up. Resolves with the number of requests cut.
   */
  async drain(server: Server, graceMs: number): Promise<number> {
    this.draining = true;
    server.close();
    this.waitingClients.endAll();
    for (const response of this.responses) {
      if (!response.headersSent) response.setHeader('Connection', 'close');
    }
    server.closeIdleConnections();
    this.logger.log(`draining ${this.responses.size} request(s), up to ${graceMs} ms`);
    if (await this.whenIdle(graceMs)) return 0;
    const cut = this.responses.size;
    this.logger.warn(`cutting ${cut} request(s) still running after ${graceMs} ms`);
    server.closeAllConnections();
    if (!(await this.whenIdle(CLEANUP_MS)))
      this.logger.error('handlers still running after the connections were cut');
    return cut;
  }

  private whenIdle(timeoutMs: number): Promise<boolean> {
    if (this.inFlight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.idleListeners = this.idleListeners.filter((listener) => listener !== done);
        resolve(false);
      }, timeoutMs);
      this.idleListeners.push(done);
    });
  }
}
