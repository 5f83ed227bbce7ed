import { CborDecodeError, type CborMap, type CborValue } from './cbor-value.js';
import { encodeCanonicalCbor } from './cbor-encoder.js';

const MAX_DEPTH = 128;

/**
 * Decodes one CBOR data item into the artifactstore value model. Strict: indefinite lengths, tags, simple values
 * other than false/true/null, non-text map keys, duplicate keys, integers beyond ±(2^53 − 1), NaN and ±Infinity,
 * and trailing bytes are rejected with a CborDecodeError. Byte strings come back as Buffers that own their memory.
 */
export function decodeCbor(bytes: Uint8Array): CborValue {
  const buffer = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const reader = new CborReader(buffer);
  const value = reader.item(0);
  if (reader.offset !== buffer.length) {
    throw new CborDecodeError(`${buffer.length - reader.offset} trailing byte(s) after the data item`);
  }
  return value;
}

/** True when `bytes` decode and re-encode to themselves: the deterministic encoding of their value. */
export function isCanonicalCbor(bytes: Uint8Array): boolean {
  try {
    return Buffer.from(bytes).equals(encodeCanonicalCbor(decodeCbor(bytes)));
  } catch {
    return false;
  }
}

class CborReader {
  offset = 0;
  // ignoreBOM: a leading U+FEFF is content, not a byte-order mark to drop.
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

  constructor(private readonly buffer: Buffer) {}

  item(depth: number): CborValue {
    if (depth > MAX_DEPTH) throw new CborDecodeError(`data nests deeper than ${MAX_DEPTH} levels`);
    const initial = this.take(1)[0] ?? 0;
    const major = initial >>> 5;
    const info = initial & 0x1f;
    switch (major) {
      case 0:
        return this.argument(info);
      case 1: {
        const value = -1 - this.argument(info);
        if (!Number.isSafeInteger(value)) throw new CborDecodeError('integer exceeds -(2^53 - 1)');
        return value;
      }
      case 2:
        return Buffer.from(this.take(this.argument(info)));
      case 3:
        try {
          return this.utf8.decode(this.take(this.argument(info)));
        } catch {
          throw new CborDecodeError('text string is not valid UTF-8');
        }
      case 4: {
        const length = this.argument(info);
        const items: CborValue[] = [];
        for (let i = 0; i < length; i++) items.push(this.item(depth + 1));
        return items;
      }
      case 5:
        return this.map(this.argument(info), depth);
      case 6:
        throw new CborDecodeError('tags are not supported');
      default:
        return this.simple(info);
    }
  }

  private map(length: number, depth: number): CborMap {
    const map: Record<string, CborValue> = {};
    for (let i = 0; i < length; i++) {
      const key = this.item(depth + 1);
      if (typeof key !== 'string') throw new CborDecodeError('map keys must be text strings');
      if (Object.prototype.hasOwnProperty.call(map, key))
        throw new CborDecodeError(`duplicate map key "${key}"`);
      const value = this.item(depth + 1);
      if (key === '__proto__') {
        // Assignment would set the object's prototype; the key must stay data.
        Object.defineProperty(map, key, { value, enumerable: true, writable: true, configurable: true });
      } else {
        map[key] = value;
      }
    }
    return map;
  }

  private simple(info: number): CborValue {
    switch (info) {
      case 20:
        return false;
      case 21:
        return true;
      case 22:
        return null;
      case 25:
        return finite(halfToNumber(this.take(2).readUInt16BE(0)));
      case 26:
        return finite(this.take(4).readFloatBE(0));
      case 27:
        return finite(this.take(8).readDoubleBE(0));
      default:
        throw new CborDecodeError(`unsupported simple value or break (additional info ${info})`);
    }
  }

  private argument(info: number): number {
    if (info < 24) return info;
    switch (info) {
      case 24:
        return this.take(1)[0] ?? 0;
      case 25:
        return this.take(2).readUInt16BE(0);
      case 26:
        return this.take(4).readUInt32BE(0);
      case 27: {
        const bytes = this.take(8);
        const value = bytes.readUInt32BE(0) * 0x100000000 + bytes.readUInt32BE(4);
        if (!Number.isSafeInteger(value)) throw new CborDecodeError('integer exceeds 2^53 - 1');
        return value;
      }
      default:
        throw new CborDecodeError('indefinite lengths and reserved additional info are not supported');
    }
  }

  private take(length: number): Buffer {
    const end = this.offset + length;
    if (end > this.buffer.length) throw new CborDecodeError('unexpected end of input');
    const slice = this.buffer.subarray(this.offset, end);
    this.offset = end;
    return slice;
  }
}

/** NaN and ±Infinity have no JSON projection, so no artifactstore payload carries them. */
function finite(value: number): number {
  if (!Number.isFinite(value)) throw new CborDecodeError(`non-finite float ${value}`);
  return value;
}

function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}
