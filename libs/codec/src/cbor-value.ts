/**
 * The values artifactstore puts into CBOR: the JSON data model plus byte strings. Maps have text keys only.
 * There is deliberately no `undefined`, no bigint and no tag: every value has exactly one canonical encoding.
 */
export type CborValue = null | boolean | number | string | Uint8Array | readonly CborValue[] | CborMap;

export interface CborMap {
  readonly [key: string]: CborValue;
}

/** Thrown for a value that has no canonical encoding (NaN, undefined, a class instance, a lone surrogate …). */
export class CborEncodeError extends Error {
  readonly code = 'cbor_encode_error';
  override readonly name = 'CborEncodeError';
}

/** Thrown for bytes that are not a well-formed, supported CBOR data item. */
export class CborDecodeError extends Error {
  readonly code = 'cbor_decode_error';
  override readonly name = 'CborDecodeError';
}
