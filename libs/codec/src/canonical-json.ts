import type { CborValue } from './cbor-value.js';

/** Thrown for a value that RFC 8785 cannot serialize (lone surrogate, non-finite number, undefined …). */
export class CanonicalJsonError extends Error {
  readonly code = 'canonical_json_error';
  override readonly name = 'CanonicalJsonError';
}

/** A JSON value: what `JSON.parse` returns. */
export type JsonValue =
  null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/**
 * Serializes a JSON value per RFC 8785 (JCS): object keys sorted by their UTF-16 code units, numbers and strings
 * spelled as ECMAScript's JSON.stringify spells them (which is what RFC 8785 prescribes), no whitespace. Rejects
 * lone surrogates (I-JSON forbids them) and anything JSON cannot carry. Written here rather than taken from
 * json-canonicalize, which hands any object with a `toJSON` key to JSON.stringify unsorted and reports shared
 * sub-objects as circular.
 */
export function canonicalJson(value: JsonValue): string {
  assertJson(value, 0);
  return serialize(value);
}

function serialize(value: JsonValue): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${(value as readonly JsonValue[]).map(serialize).join(',')}]`;
  const object = value as { readonly [key: string]: JsonValue };
  // The default sort compares UTF-16 code units, exactly RFC 8785 §3.2.3.
  const members = Object.keys(object)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${serialize(object[key] ?? null)}`);
  return `{${members.join(',')}}`;
}

/**
 * The JSON projection of a CBOR value: byte strings become lowercase hex, everything else maps one to one.
 * `canonicalJson(cborToJson(v))` is the JCS form of a manifest or event payload.
 */
export function cborToJson(value: CborValue): JsonValue {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Uint8Array)
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex');
  if (Array.isArray(value)) return (value as readonly CborValue[]).map(cborToJson);
  const out: Record<string, JsonValue> = {};
  for (const [key, item] of Object.entries(value)) {
    Object.defineProperty(out, key, {
      value: cborToJson(item),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

function assertJson(value: unknown, depth: number): void {
  if (depth > 128) throw new CanonicalJsonError('value nests deeper than 128 levels');
  switch (typeof value) {
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalJsonError(`cannot serialize the number ${value}`);
      return;
    case 'string':
      if (!value.isWellFormed()) throw new CanonicalJsonError('string contains a lone surrogate');
      return;
    case 'object':
      if (value === null) return;
      if (Array.isArray(value)) {
        for (const item of value) assertJson(item, depth + 1);
        return;
      }
      if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) {
        throw new CanonicalJsonError('only plain objects serialize as JSON objects');
      }
      for (const [key, item] of Object.entries(value)) {
        if (!key.isWellFormed()) throw new CanonicalJsonError('object key contains a lone surrogate');
        assertJson(item, depth + 1);
      }
      return;
    default:
      throw new CanonicalJsonError(`cannot serialize a value of type ${typeof value}`);
  }
}
