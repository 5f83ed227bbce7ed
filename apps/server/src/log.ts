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
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
