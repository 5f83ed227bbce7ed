import { writeSync } from 'node:fs';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from '@artifactstore/config';

/**
 * Paths pino censors wherever they appear: a second guard behind the request log, which writes no header and no
 * query string in the first place.
 */
const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'authorization',
  'token',
  '*.token',
];

/** The server's JSON logger at ARTIFACTSTORE_LOG_LEVEL, one line per record, to stdout unless told otherwise. */
export function createLog(level: LogLevel, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'artifactstore' },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination ?? new LogDestination(1),
  );
}

/** How long a write to a full pipe (EAGAIN) may wait in all before its record is dropped. */
const PIPE_FULL_PATIENCE_MS = 1_000;

/**
 * Writes each record to a file descriptor at once, whole, and never fails the process: a record that cannot be
 * written (the disk under a redirected log is full, the pipe's reader is gone) is dropped and counted, and the
 * next record that gets through says how many were lost and why. pino's own destination emits such a failure as
 * an 'error' event, which with no listener ends the process, and keeps retrying what it buffered.
 */
export class LogDestination implements DestinationStream {
  private dropped = 0;
  private dropReason = '';
  /** A record was cut short by a failure: the next text starts on a new line. */
  private cut = false;
  private readonly pause = new Int32Array(new SharedArrayBuffer(4));

  constructor(
    private readonly fd: number,
    private readonly writeTo: (fd: number, bytes: Buffer) => number = writeSync,
  ) {}

  /** Records dropped since the last one that was written. */
  get droppedRecords(): number {
    return this.dropped;
  }

  write(record: string): void {
    if (this.dropped > 0 && this.writeWhole(droppedNotice(this.dropped, this.dropReason))) {
      this.dropped = 0;
    }
    if (!this.writeWhole(record)) this.dropped += 1;
  }

  private writeWhole(text: string): boolean {
    let bytes = Buffer.from(this.cut ? `\n${text}` : text, 'utf8');
    const length = bytes.length;
    let waitedMs = 0;
    while (bytes.length > 0) {
      try {
        bytes = bytes.subarray(this.writeTo(this.fd, bytes));
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? String(error);
        // A non-blocking pipe whose reader is slow: wait for it, a little, as a blocking write would.
        if (code === 'EAGAIN' && waitedMs < PIPE_FULL_PATIENCE_MS) {
          Atomics.wait(this.pause, 0, 0, 1);
          waitedMs += 1;
          continue;
        }
        this.dropReason = code;
        this.cut ||= bytes.length < length;
        return false;
      }
    }
    this.cut = false;
    return true;
  }
}

function droppedNotice(count: number, reason: string): string {
  return `${JSON.stringify({
    level: 'warn',
    time: new Date().toISOString(),
    service: 'artifactstore',
    msg: `${count} log record(s) could not be written (${reason}) and were dropped`,
  })}\n`;
}
