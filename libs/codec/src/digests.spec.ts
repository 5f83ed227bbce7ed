import { randomBytes } from 'node:crypto';
import { hash as independentBlake3 } from 'blake3-wasm';
import { blake3, contentAddress, createBlake3, createSha256, sha256 } from './index.js';

describe('digests', () => {
  it('computes the published BLAKE3 and SHA-256 vectors', () => {
    expect(blake3(new Uint8Array(0)).toString('hex')).toBe(
      'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262',
    );
    expect(sha256('abc').toString('hex')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });

  it('agrees with an independent BLAKE3 (blake3-wasm) across chunk boundaries', () => {
    for (const size of [1, 63, 64, 65, 1023, 1024, 1025, 4096, 100_000, 1 << 20]) {
      const data = randomBytes(size);
      expect(blake3(data).equals(Buffer.from(independentBlake3(data)))).toBe(true);
    }
  });

  it('gives the same digests incrementally as in one shot', () => {
    const data = randomBytes(300_000);
    const b3 = createBlake3();
    const s256 = createSha256();
    for (let offset = 0; offset < data.length; offset += 7_777) {
      b3.update(data.subarray(offset, offset + 7_777));
      s256.update(data.subarray(offset, offset + 7_777));
    }
    expect(b3.digest().equals(blake3(data))).toBe(true);
    expect(s256.digest().equals(sha256(data))).toBe(true);
  });

  it('spells a content address as blake3:<hex>', () => {
    expect(contentAddress(Buffer.alloc(32, 0xab))).toBe(`blake3:${'ab'.repeat(32)}`);
  });
});
