import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileChunks } from './blob-file-reader.js';
import { ioBuffers, O_DIRECT } from './direct-io.js';

const CHUNK = ioBuffers.bufferSize;

describe('readFileChunks', () => {
  let dir: string;
  let path: string;
  const data = randomBytes(3 * CHUNK + 12_345);

  beforeAll(async () => {
    // The temp folder is on the disk's filesystem here (ext4), so O_DIRECT reads really bypass the page cache.
    dir = await mkdtemp(join(tmpdir(), 'artifactstore-reader-'));
    path = join(dir, 'blob');
    await writeFile(path, data);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Every chunk of bytes `start`–`end`, copied, and how many pooled buffers are left out afterwards. */
  async function readAll(start: number, end: number, direct: boolean) {
    const idleBefore = ioBuffers.idleCount;
    const parts: Buffer[] = [];
    for await (const chunk of readFileChunks(path, start, end, direct)) {
      parts.push(Buffer.from(chunk.bytes));
      chunk.release?.();
    }
    return { bytes: Buffer.concat(parts), lent: Math.max(0, idleBefore - ioBuffers.idleCount) };
  }

  for (const direct of O_DIRECT === undefined ? [false] : [true, false]) {
    it.each([
      [0, data.length - 1],
      [0, 0],
      [1, 4096],
      [4095, 4097],
      [CHUNK - 1, 2 * CHUNK + 1],
      [data.length - 1, data.length - 1],
    ])(`reads bytes %i-%i exactly (O_DIRECT ${direct ? 'on' : 'off'})`, async (start, end) => {
      const { bytes, lent } = await readAll(start, end, direct);
      expect(bytes.equals(data.subarray(start, end + 1))).toBe(true);
      expect(lent).toBe(0);
    });
  }

  it('ends early, without an error, when the file is shorter than asked', async () => {
    const { bytes } = await readAll(0, data.length + 10_000, O_DIRECT !== undefined);
    expect(bytes.equals(data)).toBe(true);
  });

  it('gives every buffer back when the reader stops early', async () => {
    const idleBefore = ioBuffers.idleCount;
    for await (const chunk of readFileChunks(path, 0, data.length - 1, O_DIRECT !== undefined)) {
      chunk.release?.();
      break;
    }
    expect(ioBuffers.idleCount).toBeGreaterThanOrEqual(idleBefore);
  });
});
