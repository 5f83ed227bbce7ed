import { canonicalJson, cborToJson, CanonicalJsonError, type JsonValue } from './index.js';

describe('canonicalJson (RFC 8785)', () => {
  it('serializes the RFC 8785 §3.2.2 example exactly', () => {
    const input = JSON.parse(
      '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],' +
        '"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}',
    ) as JsonValue;
    expect(canonicalJson(input)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it('sorts keys by UTF-16 code units, recursively', () => {
    expect(canonicalJson({ b: { d: 1, c: 2 }, a: [], '\u20ac': 1, '\u{1f600}': 2, '\r': 3 })).toBe(
      // U+20AC (0x20ac) sorts before U+1F600, whose first UTF-16 code unit is 0xd83d.
      '{"\\r":3,"a":[],"b":{"c":2,"d":1},"€":1,"😀":2}',
    );
  });

  it('sorts objects with a "toJSON" key like any other, and serializes shared sub-objects twice', () => {
    const shared = { y: 1, x: 2 };
    expect(canonicalJson({ b: 1, aa: 2, toJSON: 3, z: shared, a: shared })).toBe(
      '{"a":{"x":2,"y":1},"aa":2,"b":1,"toJSON":3,"z":{"x":2,"y":1}}',
    );
  });

  it('spells numbers as ECMAScript does (RFC 8785 §3.2.2.3)', () => {
    expect(canonicalJson([0, -0, 1e21, 1e-7, 123456789012345680000, 0.1 + 0.2, -1.5e-300])).toBe(
      '[0,0,1e+21,1e-7,123456789012345680000,0.30000000000000004,-1.5e-300]',
    );
  });

  it.each([
    ['a lone surrogate', { a: '\ud800' }],
    ['a lone surrogate key', { '\udfff': 1 }],
    ['NaN', [NaN]],
    ['a Date', { a: new Date(0) as unknown as JsonValue }],
  ])('rejects %s', (_name, value) => {
    expect(() => canonicalJson(value)).toThrow(CanonicalJsonError);
  });

  it('projects CBOR byte strings as lowercase hex', () => {
    expect(canonicalJson(cborToJson({ digest: new Uint8Array([0xab, 0x01]), n: [1, null] }))).toBe(
      '{"digest":"ab01","n":[1,null]}',
    );
  });
});
