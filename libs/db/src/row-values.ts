import { formatTimestamp, type Timestamp } from '@artifactstore/codec';

/**
 * Drivers disagree on types: pg returns BIGINT as a string and timestamptz as a Date, better-sqlite3 returns
 * numbers and the stored text. These turn a column value into the one representation the code base uses, and
 * fail loudly on anything unexpected rather than let a wrong type into a digest.
 */
export function asNumber(value: unknown): number {
  const number = typeof value === 'string' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isSafeInteger(number)) {
    throw new TypeError(`expected an integer column value, got ${String(value)}`);
  }
  return number;
}

export function asString(value: unknown): string {
  if (typeof value !== 'string') throw new TypeError(`expected a text column value, got ${typeof value}`);
  return value;
}

export function asBytes(value: unknown): Buffer {
  if (!Buffer.isBuffer(value)) throw new TypeError(`expected a binary column value, got ${typeof value}`);
  return value;
}

export function asTimestamp(value: unknown): Timestamp {
  if (value instanceof Date) return formatTimestamp(value);
  return asString(value);
}
