import { EventEmitter } from 'node:events';
import { setImmediate as tick } from 'node:timers/promises';
import { shutDownOnSignals, type ShutdownHost, type ShutdownLog } from './shutdown-signals.js';

/** A process stand-in: signals are emitted by the test, exits are recorded. */
function fakeHost(): ShutdownHost & { signals: EventEmitter; exits: number[] } {
  const signals = new EventEmitter();
  const exits: number[] = [];
  return {
    signals,
    exits,
    on: (signal, listener) => signals.on(signal, listener),
    exit: (code) => {
      exits.push(code);
    },
  };
}

function recordingLog(): ShutdownLog & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    log: (message) => lines.push(`log ${message}`),
    warn: (message) => lines.push(`warn ${message}`),
    error: (message) => lines.push(`error ${message}`),
  };
}

/** A shutdown that runs until the test ends it, counting how often it was started. */
function heldShutdown(): {
  run: () => Promise<void>;
  runs: () => number;
  finish(): void;
  fail(error: Error): void;
} {
  let started = 0;
  let finish = (): void => undefined;
  let fail = (_error: Error): void => undefined;
  return {
    run: () => {
      started++;
      return new Promise<void>((resolve, reject) => {
        finish = resolve;
        fail = reject;
      });
    },
    runs: () => started,
    finish: () => {
      finish();
    },
    fail: (error) => {
      fail(error);
    },
  };
}

describe('shutDownOnSignals', () => {
  it('shuts down once on SIGTERM and exits 0 when done', async () => {
    const host = fakeHost();
    const log = recordingLog();
    const shutdown = heldShutdown();
    shutDownOnSignals(shutdown.run, log, host);
    host.signals.emit('SIGTERM');
    expect(shutdown.runs()).toBe(1);
    await tick();
    expect(host.exits).toEqual([]);
    shutdown.finish();
    await tick();
    expect(host.exits).toEqual([0]);
    expect(log.lines).toEqual(['log SIGTERM: shutting down']);
  });

  it('exits 1 when the shutdown fails, saying why', async () => {
    const host = fakeHost();
    const log = recordingLog();
    const shutdown = heldShutdown();
    shutDownOnSignals(shutdown.run, log, host);
    host.signals.emit('SIGINT');
    shutdown.fail(new Error('database gone'));
    await tick();
    expect(host.exits).toEqual([1]);
    expect(log.lines).toContain('error shutdown failed: Error: database gone');
  });

  it.each([
    ['SIGINT', 'SIGTERM', 143],
    ['SIGTERM', 'SIGINT', 130],
    ['SIGTERM', 'SIGTERM', 143],
    ['SIGINT', 'SIGINT', 130],
  ] as const)(
    'on %s then %s: one shutdown, and the second signal exits at once with %i, logged',
    (first, second, code) => {
      const host = fakeHost();
      const log = recordingLog();
      const shutdown = heldShutdown();
      shutDownOnSignals(shutdown.run, log, host);
      host.signals.emit(first);
      host.signals.emit(second);
      expect(shutdown.runs()).toBe(1);
      expect(host.exits).toEqual([code]);
      expect(log.lines).toEqual([
        `log ${first}: shutting down`,
        `warn ${second} during shutdown: exiting at once with status ${code}`,
      ]);
    },
  );
});
