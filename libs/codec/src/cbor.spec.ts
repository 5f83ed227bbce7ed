import { encode as independentEncode, cdeEncodeOptions } from 'cbor2';
import {
  decodeCbor,
  encodeCanonicalCbor,
  isCanonicalCbor,
  type CborValue,
  CborEncodeError,
  CborDecodeError,
} from './index.js';

const hex = (value: CborValue): string => encodeCanonicalCbor(value).toString('hex');
const bytes = (text: string): Buffer => Buffer.from(text, 'hex');

describe('encodeCanonicalCbor', () => {
  // RFC 8949 Appendix A, the values JavaScript can express.
  const appendixA: [CborValue, string][] = [
    [0, '00'],
    [1, '01'],
    [10, '0a'],
    [23, '17'],
    [24, '1818'],
    [25, '1819'],
    [100, '1864'],
    [1000, '1903e8'],
    [1000000, '1a000f4240'],
    [1000000000000, '1b000000e8d4a51000'],
    [-1, '20'],
    [-10, '29'],
    [-100, '3863'],
    [-1000, '3903e7'],
    [1.1, 'fb3ff199999999999a'],
    [1.5, 'f93e00'],
    [65504.5, 'fa477fe080'],
    [3.4028234663852886e38, 'fa7f7fffff'],
    [1.0e300, 'fb7e37e43c8800759c'],
    [5.960464477539063e-8, 'f90001'],
    [0.00006103515625, 'f90400'],
    [-4.1, 'fbc010666666666666'],
    [false, 'f4'],
    [true, 'f5'],
    [null, 'f6'],
    ['', '60'],
    ['a', '6161'],
    ['IETF', '6449455446'],
    ['"\\', '62225c'],
    ['\u00fc', '62c3bc'],
    ['\u6c34', '63e6b0b4'],
    ['\ud800\udd51', '64f0908591'],
    [[], '80'],
    [[1, 2, 3], '83010203'],
    [[1, [2, 3], [4, 5]], '8301820203820405'],
    [{}, 'a0'],
    [{ a: 1, b: [2, 3] }, 'a26161016162820203'],
    [['a', { b: 'c' }], '826161a161626163'],
    [new Uint8Array(0), '40'],
    [new Uint8Array([1, 2, 3, 4]), '4401020304'],
    [{ a: 'A', b: 'B', c: 'C', d: 'D', e: 'E' }, 'a56161614161626142616361436164614461656145'],
  ];

  it.each(appendixA)('encodes %p as %s', (value, expected) => {
    expect(hex(value)).toBe(expected);
  });

  it('sorts map keys by the bytes of their encodings: shorter keys first, then bytewise', () => {
    expect(hex({ b: 1, aa: 3, a: 2 })).toBe('a3616102616201626161' + '03');
    // "z" (one UTF-8 byte) comes first; "zz" and "é" tie on length (two bytes) and 0x7a sorts before 0xc3.
    expect(hex({ é: 2, zz: 1, z: 3 })).toBe('a3617a03627a7a0162c3a902');
  });

  it('encodes -0 as the integer 0 and unsafe integers as the shortest exact float', () => {
    expect(hex(-0)).toBe('00');
    expect(hex(2 ** 53)).toBe('fa5a000000');
    expect(hex(-(2 ** 60))).toBe('fadd800000');
    expect(hex(2 ** 53 - 1)).toBe('1b001fffffffffffff');
    expect(hex(-(2 ** 53 - 1))).toBe('3b001ffffffffffffe');
  });

  it('chooses half, single and double precision by what keeps the value', () => {
    expect(hex(0.5)).toBe('f93800');
    expect(hex(0.1)).toBe('fb3fb999999999999a');
    expect(hex(Math.fround(0.1))).toBe('fa3dcccccd');
    expect(hex(-2.5)).toBe('f9c100');
    expect(hex(2 ** -24)).toBe('f90001');
    expect(hex(2 ** -25)).toBe('fa33000000');
  });

  it.each([
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['undefined inside a map', { a: undefined } as unknown as CborValue],
    ['a lone surrogate', 'x\ud800'],
    ['a lone surrogate in a key', { '\udc00': 1 }],
    ['a Date', new Date(0) as unknown as CborValue],
    ['a Map', new Map() as unknown as CborValue],
    ['a bigint', 1n as unknown as CborValue],
  ])('rejects %s', (_name, value) => {
    expect(() => encodeCanonicalCbor(value)).toThrow(CborEncodeError);
  });

  it('encodes large values without truncation (node-cbor once cut a manifest at 16 KiB)', () => {
    const files = Array.from({ length: 5000 }, (_, i) => ({ relative_path: `dir/${i}.bin`, size: i }));
    const encoded = encodeCanonicalCbor({ files });
    expect(encoded.length).toBeGreaterThan(100_000);
    expect(decodeCbor(encoded)).toEqual({ files });
  });

  it('matches an independent encoder (cbor2, deterministic-encoding options) on 2,000 random values', () => {
    const random = mulberry32(0x5eed);
    for (let i = 0; i < 2000; i++) {
      const value = randomValue(random, 0);
      const ours = encodeCanonicalCbor(value);
      const theirs = Buffer.from(independentEncode(value, cdeEncodeOptions));
      expect(ours.toString('hex')).toBe(theirs.toString('hex'));
    }
  });
});

describe('decodeCbor', () => {
  it('round-trips random values', () => {
    const random = mulberry32(42);
    for (let i = 0; i < 500; i++) {
      const value = randomValue(random, 0);
      const encoded = encodeCanonicalCbor(value);
      const decoded = decodeCbor(encoded);
      expect(encodeCanonicalCbor(decoded).equals(encoded)).toBe(true);
      expect(isCanonicalCbor(encoded)).toBe(true);
    }
  });

  it('keeps a leading U+FEFF as content', () => {
    expect(decodeCbor(bytes('64efbbbf61'))).toBe('\ufeffa');
    expect(isCanonicalCbor(bytes('64efbbbf61'))).toBe(true);
  });

  it('keeps a "__proto__" key as data', () => {
    const decoded = decodeCbor(bytes('a1695f5f70726f746f5f5f01')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(Object.keys(decoded)).toEqual(['__proto__']);
  });

  it.each([
    ['indefinite-length array', '9f01ff'],
    ['a tag', 'c11a514b67b0'],
    ['undefined', 'f7'],
    ['a non-text map key', 'a10102'],
    ['a duplicate key', 'a2616101616102'],
    ['trailing bytes', '0101'],
    ['a truncated item', '1903'],
    ['an integer beyond 2^53 - 1', '1b0020000000000000'],
    ['invalid UTF-8', '61ff'],
    ['-2^53', '3b001fffffffffffff'],
    ['NaN', 'f97e00'],
    ['Infinity as a double', 'fb7ff0000000000000'],
  ])('rejects %s', (_name, input) => {
    expect(() => decodeCbor(bytes(input))).toThrow(CborDecodeError);
  });

  it('tells canonical encodings from other valid encodings of the same value', () => {
    expect(isCanonicalCbor(bytes('a26161016162820203'))).toBe(true);
    expect(isCanonicalCbor(bytes('a26162820203616101'))).toBe(false); // keys out of order
    expect(isCanonicalCbor(bytes('1800'))).toBe(false); // 0 in two bytes
    expect(isCanonicalCbor(bytes('fb3ff8000000000000'))).toBe(false); // 1.5 as a double
    expect(isCanonicalCbor(bytes('f98000'))).toBe(false); // -0.0 as a float
  });
});

/** A small deterministic PRNG, so a failure reproduces. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomValue(random: () => number, depth: number): CborValue {
  const pick = Math.floor(random() * (depth > 3 ? 6 : 8));
  switch (pick) {
    case 0:
      return Math.floor((random() - 0.5) * 2 ** (Math.floor(random() * 53) + 1));
    case 1: {
      const choices = [
        random() * 1e6 - 5e5,
        1 / (1 + random() * 1000),
        Math.fround(random()),
        random() * 1e300,
        0.5 + Math.floor(random() * 100),
      ];
      return choices[Math.floor(random() * choices.length)] ?? 0.5;
    }
    case 2:
      return randomString(random);
    case 3:
      return new Uint8Array(
        Array.from({ length: Math.floor(random() * 40) }, () => Math.floor(random() * 256)),
      );
    case 4:
      return [true, false, null][Math.floor(random() * 3)] ?? null;
    case 5:
      return Array.from(randomString(random)).slice(0, 3).join('');
    case 6:
      return Array.from({ length: Math.floor(random() * 5) }, () => randomValue(random, depth + 1));
    default: {
      const map: Record<string, CborValue> = {};
      const size = Math.floor(random() * 6);
      for (let i = 0; i < size; i++) map[randomString(random)] = randomValue(random, depth + 1);
      return map;
    }
  }
}

function randomString(random: () => number): string {
  const alphabet = ['a', 'b', 'Z', '0', '_', '/', 'é', 'ß', '\u6c34', '\u{1f600}', '\u0000', '"'];
  const length = Math.floor(random() * 12);
  let text = '';
  for (let i = 0; i < length; i++) text += alphabet[Math.floor(random() * alphabet.length)] ?? 'a';
  return text;
}
