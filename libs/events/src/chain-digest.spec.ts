import { encode as independentEncode, cdeEncodeOptions } from 'cbor2';
import { hash as independentBlake3 } from 'blake3-wasm';
import { blake3, encodeCanonicalCbor } from '@artifactstore/codec';
import {
  chainDigest,
  GENESIS_CHAIN_DIGEST,
  makeEvent,
  makeEventFromEncodedPayload,
  InvalidEventError,
} from './index.js';

describe('chainDigest', () => {
  const draft = makeEvent(
    { event_type: 'v1.package.created', subject_kind: 'package', subject_id: 'p-1', actor: 'alice' },
    { name: 'hello', n: 1 },
  );
  const link = { ...draft, sequence: 1, created_at: '2026-01-02T03:04:05.678Z' };

  it('is BLAKE3(previous ‖ CBOR[sequence, type, kind, id, actor, created_at, payload_digest]) (docs/formats.md)', () => {
    const array = [
      1,
      'v1.package.created',
      'package',
      'p-1',
      'alice',
      '2026-01-02T03:04:05.678Z',
      new Uint8Array(draft.payload_digest),
    ];
    const expected = Buffer.from(
      independentBlake3(Buffer.concat([GENESIS_CHAIN_DIGEST, independentEncode(array, cdeEncodeOptions)])),
    );
    expect(chainDigest(GENESIS_CHAIN_DIGEST, link).equals(expected)).toBe(true);
  });

  it('keeps its golden value', () => {
    expect(draft.payload.toString('hex')).toBe('a2616e01646e616d656568656c6c6f');
    expect(chainDigest(GENESIS_CHAIN_DIGEST, link).toString('hex')).toBe(
      '0fd84eb467e882b109e0331c68b7c47087cbd75be82a098fe6277ef1703f43e5',
    );
  });

  it('depends on every field and on the previous digest', () => {
    const base = chainDigest(GENESIS_CHAIN_DIGEST, link);
    const variants = [
      chainDigest(Buffer.alloc(32, 1), link),
      chainDigest(GENESIS_CHAIN_DIGEST, { ...link, sequence: 2 }),
      chainDigest(GENESIS_CHAIN_DIGEST, { ...link, event_type: 'v1.package.finalized' }),
      chainDigest(GENESIS_CHAIN_DIGEST, { ...link, subject_kind: 'widget' }),
      chainDigest(GENESIS_CHAIN_DIGEST, { ...link, subject_id: 'p-2' }),
      chainDigest(GENESIS_CHAIN_DIGEST, { ...link, actor: 'bob' }),
      chainDigest(GENESIS_CHAIN_DIGEST, { ...link, created_at: '2026-01-02T03:04:05.679Z' }),
      chainDigest(GENESIS_CHAIN_DIGEST, { ...link, payload_digest: blake3('other') }),
    ];
    for (const variant of variants) expect(variant.equals(base)).toBe(false);
  });
});

describe('makeEvent', () => {
  it('encodes the payload canonically and digests it', () => {
    expect(draft().payload.equals(encodeCanonicalCbor({ b: 1, a: 2 }))).toBe(true);
    expect(draft().payload_digest.equals(blake3(draft().payload))).toBe(true);
  });

  it('refuses malformed headers and non-canonical pre-encoded payloads', () => {
    const header = { event_type: 'v1.package.created', subject_kind: 'package', subject_id: 'x', actor: 'a' };
    expect(() => makeEvent({ ...header, event_type: 'package created' }, {})).toThrow(InvalidEventError);
    expect(() => makeEvent({ ...header, actor: '' }, {})).toThrow(InvalidEventError);
    expect(() =>
      makeEventFromEncodedPayload(header, Buffer.from('a26162016161 02'.replace(' ', ''), 'hex')),
    ).toThrow(InvalidEventError);
    expect(makeEventFromEncodedPayload(header, encodeCanonicalCbor({ a: 1 })).payload.toString('hex')).toBe(
      'a1616101',
    );
  });

  function draft() {
    return makeEvent(
      { event_type: 'v1.x.y', subject_kind: 'k', subject_id: 'i', actor: 'a' },
      { b: 1, a: 2 },
    );
  }
});
