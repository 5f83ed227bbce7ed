import { createHash, randomBytes } from 'node:crypto';
import { access, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { blake3, toHex } from '@artifactstore/codec';
import { digestFile, HashingStream, ignoresLetterCase, READ_CHUNK } from './local-tree.js';

const expected = (bytes: Buffer) => ({
  size: bytes.length,
  sha256: createHash('sha256').update(bytes).digest('hex'),
  blake3: toHex(blake3(bytes)),
});

describe('digestFile', () => {
  let folder: string;

  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'artifactstore-local-tree-'));
  });

  afterAll(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  it.each([
    ['an empty file', 0],
    ['a file shorter than one read', 1000],
    ['a file of exactly one read', READ_CHUNK],
    ['a file one byte past a read', READ_CHUNK + 1],
    ['a file of several reads', 3 * READ_CHUNK + 4321],
  ])('gives the size, SHA-256 and BLAKE3 of %s', async (_name, size) => {
    const bytes = randomBytes(size);
    const path = join(folder, `f-${size}.bin`);
    await writeFile(path, bytes);
    await expect(digestFile(path)).resolves.toEqual(expected(bytes));
  });

  it('fails for a file that is not there', async () => {
    await expect(digestFile(join(folder, 'missing.bin'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('HashingStream', () => {
  it('passes every byte through, hashes them and reports each chunk', async () => {
    const chunks = [randomBytes(10), randomBytes(0), randomBytes(70_000), randomBytes(3)];
    const reported: number[] = [];
    const hashing = new HashingStream((count) => {
      reported.push(count);
    });
    const received: Buffer[] = [];
    await pipeline(Readable.from(chunks), hashing, async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) received.push(chunk);
    });
    const all = Buffer.concat(chunks);
    expect(Buffer.concat(received).equals(all)).toBe(true);
    expect(reported.reduce((sum, count) => sum + count, 0)).toBe(all.length);
    expect(hashing.digests()).toEqual(expected(all));
  });
});

describe('ignoresLetterCase', () => {
  it('tells whether a name in capitals finds a file of the directory, and leaves nothing behind', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'artifactstore-case-'));
    try {
      await writeFile(join(folder, 'probe'), '');
      const found = await access(join(folder, 'PROBE')).then(
        () => true,
        () => false,
      );
      await rm(join(folder, 'probe'));
      await expect(ignoresLetterCase(folder)).resolves.toBe(found);
      expect(await readdir(folder)).toEqual([]);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});
