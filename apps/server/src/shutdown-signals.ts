import { constants } from 'node:os';

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;
export type ShutdownSignal = (typeof SIGNALS)[number];

/** Where signals come from (the process) and where the process ends; a test passes its own. */
export interface ShutdownHost {
  on(signal: ShutdownSignal, listener: () => void): unknown;
  exit(code: number): void;
}

/** The few logger methods used (Nest's Logger has them). */
export interface ShutdownLog {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/**
 * Runs `shutDown` once, on the first SIGTERM or SIGINT, then exits 0 (1 if it failed). A second signal while it
 * runs — whichever of the two — exits at once with 128 + the signal's number (130 for SIGINT, 143 for SIGTERM), as
 * a shell reports a process the signal killed: whoever sends it again (Ctrl-C twice, an orchestrator's second
 * TERM) does not want to wait out the grace period, and must not start a second shutdown beside the first.
 */
export function shutDownOnSignals(shutDown: () => Promise<void>, log: ShutdownLog, host: ShutdownHost): void {
  let shuttingDown = false;
  for (const signal of SIGNALS) {
    host.on(signal, () => {
      if (shuttingDown) {
        const code = 128 + constants.signals[signal];
        log.warn(`${signal} during shutdown: exiting at once with status ${code}`);
        host.exit(code);
        return;
      }
      shuttingDown = true;
      log.log(`${signal}: shutting down`);
      shutDown().then(
        () => {
          host.exit(0);
        },
        (error: unknown) => {
          log.error(`shutdown failed: ${String(error)}`);
          host.exit(1);
        },
      );
    });
  }
}
