/**
 * Timestamps are UTC with millisecond precision and travel as RFC 3339 text, `YYYY-MM-DDTHH:MM:SS.sssZ`,
 * everywhere: in events, in the chain digest, in views and on the wire. One spelling per instant.
 */
export type Timestamp = string;

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export class InvalidTimestampError extends Error {
  readonly code = 'invalid_timestamp';
  override readonly name = 'InvalidTimestampError';
}

/** Formats an instant in the one spelling (years 0000–9999 only). */
export function formatTimestamp(date: Date): Timestamp {
  const text = date.toISOString();
  if (!TIMESTAMP.test(text)) throw new InvalidTimestampError(`instant out of range: ${text}`);
  return text;
}

/** Parses the one spelling back into epoch milliseconds; anything else is an InvalidTimestampError. */
export function parseTimestamp(text: string): number {
  const millis = TIMESTAMP.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(millis) || new Date(millis).toISOString() !== text) {
    throw new InvalidTimestampError(`not an RFC 3339 UTC millisecond timestamp: ${JSON.stringify(text)}`);
  }
  return millis;
}

/** `timestamp` plus whole days, in the same spelling. */
export function addDays(timestamp: Timestamp, days: number): Timestamp {
  return formatTimestamp(new Date(parseTimestamp(timestamp) + days * 86_400_000));
}
