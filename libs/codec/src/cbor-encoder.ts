import { CborEncodeError, type CborMap, type CborValue } from './cbor-value.js';

const MAJOR_UNSIGNED = 0;
const MAJOR_NEGATIVE = 1;
const MAJOR_BYTES = 2;
const MAJOR_TEXT = 3;
const MAJOR_ARRAY = 4;
const MAJOR_MAP = 5;

const MAX_DEPTH = 128;

/**
 * Encodes a value as deterministic CBOR, RFC 8949 §4.2.1 ("core deterministic encoding"):
 * definite lengths only; integers and lengths in their shortest form; map keys sorted by the bytes of their
 * encodings; floats in the shortest of half, single or double precision that keeps their value.
 *
 * Numbers: a safe integer (|n| ≤ 2^53 − 1) is a CBOR integer, −0 encodes as the integer 0, any other finite
 * number is a float; NaN and ±Infinity are rejected because the JSON projection cannot carry them.
 * Strings must be well-formed UTF-16 (a lone surrogate is rejected, never replaced).
 */
export function encodeCanonicalCbor(value: CborValue): Buffer {
  const writer = new CborWriter();
  writer.value(value, 0);
  return writer.finish();
}

class CborWriter {
  private buffer = Buffer.allocUnsafe(512);
  private offset = 0;

  finish(): Buffer {
    // Copy so the caller never holds a view into an oversized scratch buffer.
    return Buffer.from(this.buffer.subarray(0, this.offset));
  }

  value(value: CborValue, depth: number): void {
    if (depth > MAX_DEPTH) throw new CborEncodeError(`value nests deeper than ${MAX_DEPTH} levels`);
    if (value === null) {
      this.byte(0xf6);
    } else if (typeof value === 'boolean') {
      this.byte(value ? 0xf5 : 0xf4);
    } else if (typeof value === 'number') {
      this.number(value);
    } else if (typeof value === 'string') {
      this.text(value);
    } else if (value instanceof Uint8Array) {
      this.head(MAJOR_BYTES, value.length);
      this.raw(value);
    } else if (Array.isArray(value)) {
      const items = value as readonly CborValue[];
      this.head(MAJOR_ARRAY, items.length);
      for (const item of items) this.value(item, depth + 1);
    } else if (typeof value === 'object') {
      this.map(value as CborMap, depth);
    } else {
      throw new CborEncodeError(`cannot encode a value of type ${typeof value}`);
    }
  }

  private map(map: CborMap, depth: number): void {
    const prototype = Object.getPrototypeOf(map) as unknown;
    if (prototype !== Object.prototype && prototype !== null) {
      throw new CborEncodeError('only plain objects encode as CBOR maps');
    }
    const keys = Object.keys(map);
    const encodedKeys = keys.map((key) => {
      assertWellFormed(key);
      return { key, utf8: Buffer.from(key, 'utf8') };
    });
    // The encoded key is a text-string head followed by the UTF-8 bytes; the head grows with the length, so
    // bytewise order of encodings is: shorter first, then bytewise order of the UTF-8 bytes.
    encodedKeys.sort((a, b) => a.utf8.length - b.utf8.length || Buffer.compare(a.utf8, b.utf8));
    this.head(MAJOR_MAP, encodedKeys.length);
    for (const { key, utf8 } of encodedKeys) {
      const item = map[key];
      if (item === undefined) throw new CborEncodeError(`map key "${key}" has the value undefined`);
      this.head(MAJOR_TEXT, utf8.length);
      this.raw(utf8);
      this.value(item, depth + 1);
    }
  }

  private number(value: number): void {
    if (Number.isSafeInteger(value)) {
      // Number.isSafeInteger(-0) is true and -0 >= 0, so −0 lands here as the integer 0.
      if (value >= 0) this.head(MAJOR_UNSIGNED, value);
      else this.head(MAJOR_NEGATIVE, -1 - value);
      return;
    }
    if (!Number.isFinite(value)) throw new CborEncodeError(`cannot encode the non-finite number ${value}`);
    const half = toHalfPrecisionBits(value);
    if (half !== undefined) {
      this.reserve(3);
      this.buffer[this.offset] = 0xf9;
      this.buffer.writeUInt16BE(half, this.offset + 1);
      this.offset += 3;
    } else if (Math.fround(value) === value) {
      this.reserve(5);
      this.buffer[this.offset] = 0xfa;
      this.buffer.writeFloatBE(value, this.offset + 1);
      this.offset += 5;
    } else {
      this.reserve(9);
      this.buffer[this.offset] = 0xfb;
      this.buffer.writeDoubleBE(value, this.offset + 1);
      this.offset += 9;
    }
  }

  private text(value: string): void {
    assertWellFormed(value);
    const length = Buffer.byteLength(value, 'utf8');
    this.head(MAJOR_TEXT, length);
    this.reserve(length);
    this.offset += this.buffer.write(value, this.offset, length, 'utf8');
  }

  private head(major: number, argument: number): void {
    const type = major << 5;
    this.reserve(9);
    const buffer = this.buffer;
    if (argument < 24) {
      buffer[this.offset++] = type | argument;
    } else if (argument < 0x100) {
      buffer[this.offset++] = type | 24;
      buffer[this.offset++] = argument;
    } else if (argument < 0x10000) {
      buffer[this.offset++] = type | 25;
      buffer.writeUInt16BE(argument, this.offset);
      this.offset += 2;
    } else if (argument < 0x100000000) {
      buffer[this.offset++] = type | 26;
      buffer.writeUInt32BE(argument, this.offset);
      this.offset += 4;
    } else {
      buffer[this.offset++] = type | 27;
      buffer.writeUInt32BE(Math.floor(argument / 0x100000000), this.offset);
      buffer.writeUInt32BE(argument % 0x100000000, this.offset + 4);
      this.offset += 8;
    }
  }

  private byte(value: number): void {
    this.reserve(1);
    this.buffer[this.offset++] = value;
  }

  private raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.offset);
    this.offset += bytes.length;
  }

  private reserve(extra: number): void {
    const needed = this.offset + extra;
    if (needed <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < needed) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.buffer.copy(grown, 0, 0, this.offset);
    this.buffer = grown;
  }
}

function assertWellFormed(value: string): void {
  if (!value.isWellFormed()) throw new CborEncodeError('string contains a lone surrogate (not valid UTF-8)');
}

const float32 = new Float32Array(1);
const float32Bits = new Uint32Array(float32.buffer);

/** The IEEE 754 binary16 bits of `value` when it converts without loss, else undefined. */
function toHalfPrecisionBits(value: number): number | undefined {
  if (Math.fround(value) !== value) return undefined;
  float32[0] = value;
  const bits = float32Bits[0] ?? 0;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = ((bits >>> 23) & 0xff) - 127;
  const mantissa = bits & 0x7fffff;
  if (exponent >= -14 && exponent <= 15) {
    if ((mantissa & 0x1fff) !== 0) return undefined;
    return sign | ((exponent + 15) << 10) | (mantissa >>> 13);
  }
  if (exponent >= -24 && exponent < -14) {
    // Subnormal half: value = m × 2^-24 with m < 1024.
    const full = mantissa | 0x800000;
    const shift = -exponent - 14 + 13;
    if ((full & ((1 << shift) - 1)) !== 0) return undefined;
    return sign | (full >>> shift);
  }
  return undefined;
}
