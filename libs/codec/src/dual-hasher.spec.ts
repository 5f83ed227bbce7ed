import { randomBytes } from 'node:crypto';
import { blake3, sha256 } from './digests.js';
import { DualHasher } from './dual-hasher.js';

describe('DualHasher', () => {
  it('gives the size and both one-shot digests, whatever the chunking', () => {
    const data = randomBytes(300_001);
    for (const chunkSize of [1_000, 65_536, data.length]) {
      const hasher = new DualHasher();
      for (let offset = 0; offset < data.length; offset += chunkSize)
        hasher.update(data.subarray(offset, offset + chunkSize));
      expect(hasher.size).toBe(data.length);
      expect(hasher.digests()).toEqual({ size: data.length, blake3: blake3(data), sha256: sha256(data) });
    }
  });

  it('hashes no bytes as the empty input', () => {
    expect(new DualHasher().digests()).toEqual({
      size: 0,
      blake3: blake3(new Uint8Array(0)),
      sha256: sha256(new Uint8Array(0)),
    });
  });
});
