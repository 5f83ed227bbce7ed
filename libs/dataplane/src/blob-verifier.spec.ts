import { randomBytes } from 'node:crypto';
import { blake3 } from '@artifactstore/codec';
import type { BlobChunk } from './blob-store.js';
import { verified, VERIFY_HOLD_BACK } from './blob-verifier.js';
import { IntegrityError } from './dataplane.errors.js';

const MiB = 1 << 20;

/**
 * Feeds `onDisk` in `chunkSize` chunks, each with a release that is counted, through `verified` expecting
 * `expected`; what came out, how it ended, how much came out before the source ended, and the releases.
 */
async function verify(onDisk: Buffer, chunkSize: number, expected = onDisk, stopAfter = Infinity) {
  let chunks = 0;
  let releases = 0;
  const state = { sourceEnded: false };
  async function* source(): AsyncGenerator<BlobChunk> {
    for (let offset = 0; offset < onDisk.length; offset += chunkSize) {
      chunks++;
      // A turn of the event loop per chunk, as a backend's reads take.
      await Promise.resolve();
      yield {
        bytes: onDisk.subarray(offset, offset + chunkSize),
        release: () => {
          releases++;
        },
      };
    }
    state.sourceEnded = true;
  }
  const parts: Buffer[] = [];
  let releasedBeforeEnd = 0;
  let error: unknown;
  try {
    for await (const chunk of verified(source(), blake3(expected).toString('hex'), expected.length)) {
      parts.push(Buffer.from(chunk.bytes));
      if (!state.sourceEnded) releasedBeforeEnd += chunk.bytes.length;
      chunk.release?.();
      if (parts.length >= stopAfter) break;
    }
  } catch (caught) {
    error = caught;
  }
  return { bytes: Buffer.concat(parts), error, releasedBeforeEnd, chunks, releases };
}

describe('verified (BlobVerifier)', () => {
  it.each([
    [0, 1000],
    [1, 1000],
    [VERIFY_HOLD_BACK, 64 * 1024],
    [VERIFY_HOLD_BACK + 1, 64 * 1024],
    [5 * MiB + 17, 64 * 1024],
    [5 * MiB + 17, 2 * MiB],
  ])('passes an intact blob of %i bytes in %i-byte chunks through whole', async (size, chunkSize) => {
    const data = randomBytes(size);
    const { bytes, error, chunks, releases } = await verify(data, chunkSize);
    expect(error).toBeUndefined();
    expect(bytes.equals(data)).toBe(true);
    expect(releases).toBe(chunks);
  });

  it.each([64 * 1024, 2 * MiB])(
    'holds back the last VERIFY_HOLD_BACK bytes until the end, whatever the chunks (%i bytes)',
    async (chunkSize) => {
      const data = randomBytes(6 * MiB);
      const { releasedBeforeEnd } = await verify(data, chunkSize);
      expect(releasedBeforeEnd).toBeGreaterThan(0);
      expect(releasedBeforeEnd).toBeLessThanOrEqual(data.length - VERIFY_HOLD_BACK);
    },
  );

  it.each([
    [
      'a flipped byte',
      (good: Buffer) => {
        const bad = Buffer.from(good);
        bad[10] = (bad[10] ?? 0) ^ 0xff;
        return bad;
      },
    ],
    ['a missing tail', (good: Buffer) => good.subarray(0, good.length - 5)],
    ['an extra tail', (good: Buffer) => Buffer.concat([good, Buffer.from('tail')])],
  ])('fails with an IntegrityError on %s, and releases every chunk', async (_label, damage) => {
    for (const size of [VERIFY_HOLD_BACK - 100, 5 * MiB]) {
      const good = randomBytes(size);
      const { bytes, error, chunks, releases } = await verify(damage(good), 64 * 1024, good);
      expect(error).toBeInstanceOf(IntegrityError);
      // Nothing of a blob up to VERIFY_HOLD_BACK, never the last VERIFY_HOLD_BACK bytes of a larger one.
      expect(bytes.length).toBeLessThanOrEqual(Math.max(0, size - VERIFY_HOLD_BACK));
      expect(releases).toBe(chunks);
    }
  });

  it('releases what it holds when the reader stops early', async () => {
    const { chunks, releases } = await verify(randomBytes(8 * MiB), 64 * 1024, undefined, 3);
    expect(releases).toBe(chunks);
  });
});
