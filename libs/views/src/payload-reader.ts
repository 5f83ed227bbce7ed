import { decodeCbor, isUuid, parseTimestamp, type CborMap, type CborValue } from '@artifactstore/codec';
import type { Event } from '@artifactstore/events';

/** A payload that does not have the shape its event type promises. The event is refused (or replay stops). */
export class InvalidPayloadError extends Error {
  readonly code = 'invalid_payload';
  override readonly name = 'InvalidPayloadError';
}

/** Typed, checked access to the fields of a CBOR map payload. */
export class PayloadReader {
  private constructor(
    private readonly where: string,
    private readonly fields: CborMap,
  ) {}

  static of(event: Event): PayloadReader {
    return PayloadReader.fromValue(`${event.event_type} #${event.sequence}`, decodeCbor(event.payload));
  }

  static fromValue(where: string, value: CborValue): PayloadReader {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) {
      throw new InvalidPayloadError(`${where}: payload is not a map`);
    }
    return new PayloadReader(where, value as CborMap);
  }

  text(key: string): string {
    const value = this.field(key);
    if (typeof value !== 'string') throw this.wrongType(key, 'a text string');
    return value;
  }

  /** A text field that may be absent; undefined then. */
  optionalText(key: string): string | undefined {
    return Object.prototype.hasOwnProperty.call(this.fields, key) ? this.text(key) : undefined;
  }

  /**
   * A UUID in its one spelling: lowercase, hyphenated (8-4-4-4-12). PostgreSQL's uuid type would accept and
   * normalize other spellings while SQLite's text would not, so the views could differ by dialect.
   */
  uuid(key: string): string {
    const value = this.text(key);
    if (!isUuid(value)) throw this.wrongType(key, 'a lowercase hyphenated UUID');
    return value;
  }

  /** A timestamp in its one spelling (RFC 3339, UTC, milliseconds), as the views store it. */
  timestamp(key: string): string {
    const value = this.text(key);
    try {
      parseTimestamp(value);
    } catch {
      throw this.wrongType(key, 'an RFC 3339 UTC millisecond timestamp');
    }
    return value;
  }

  /** A UUID (as `uuid`) or null. */
  nullableUuid(key: string): string | null {
    return this.field(key) === null ? null : this.uuid(key);
  }

  integer(key: string): number {
    const value = this.field(key);
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw this.wrongType(key, 'a non-negative integer');
    }
    return value;
  }

  nullableInteger(key: string): number | null {
    return this.field(key) === null ? null : this.integer(key);
  }

  digest(key: string): Buffer {
    const value = this.field(key);
    if (!(value instanceof Uint8Array) || value.length !== 32) throw this.wrongType(key, 'a 32-byte string');
    return Buffer.from(value);
  }

  map(key: string): CborMap {
    const value = this.field(key);
    if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) {
      throw this.wrongType(key, 'a map');
    }
    return value as CborMap;
  }

  nested(key: string): PayloadReader {
    return new PayloadReader(`${this.where}.${key}`, this.map(key));
  }

  private field(key: string): CborValue {
    const value = Object.prototype.hasOwnProperty.call(this.fields, key) ? this.fields[key] : undefined;
    if (value === undefined) throw new InvalidPayloadError(`${this.where}: missing field ${key}`);
    return value;
  }

  private wrongType(key: string, expected: string): InvalidPayloadError {
    return new InvalidPayloadError(`${this.where}: field ${key} must be ${expected}`);
  }
}
