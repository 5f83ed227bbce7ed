import type { LogLevel as NestLogLevel } from '@nestjs/common';
import type { LogLevel } from '@artifactstore/config';

const ORDER: readonly NestLogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];
const CUTOFF: Record<LogLevel, NestLogLevel> = {
  fatal: 'fatal',
  error: 'error',
  warn: 'warn',
  info: 'log',
  debug: 'debug',
  trace: 'verbose',
};

/** The Nest logger levels enabled at ARTIFACTSTORE_LOG_LEVEL. */
export function nestLogLevels(level: LogLevel): NestLogLevel[] {
  return ORDER.slice(0, ORDER.indexOf(CUTOFF[level]) + 1);
}
