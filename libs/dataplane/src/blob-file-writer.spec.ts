import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdtemp, open, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AlignedBufferPool, O_DIRECT, takesDirectWrites } from './direct-io.js';
import { BlobFileWriter, WRITE_BLOCK, type OpenFile } from './blob-file-writer.js';
import { StorageError } from './dataplane.errors.js';

const directIoAvailable = O_DIRECT !== undefined;

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: refused by the test`), { code });
}

/** Writes `bytes` in chunks of `chunkSize` and returns what the file holds afterwards. */
async function writeThrough(
  path: string,
  bytes: Buffer,
  chunkSize: number,
  direct: boolean,
  openFile?: OpenFile,
): Promise<{ size: number; stored: Buffer }> {
  const writer = await BlobFileWriter.create(path, direct, openFile);
  try {
    for (let offset = 0; offset < bytes.length; offset += chunkSize) {
      await writer.push(bytes.subarray(offset, offset + chunkSize));
    }
    const size = await writer.finish();
    await writer.sync();
    return { size, stored: await readFile(path) };
  } finally {
    await writer.close();
  }
}

describe('BlobFileWriter', () => {
  let dir: string;
  let counter = 0;
  const nextPath = () => join(dir, `${counter++}.tmp`);

  beforeAll(async () => {
    // The temp folder is on the disk's filesystem here (ext4), so O_DIRECT is really used.
    dir = await mkdtemp(join(tmpdir(), 'artifactstore-writer-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const sizes = [0, 1, 4095, 4096, 4097, WRITE_BLOCK - 1, WRITE_BLOCK, WRITE_BLOCK + 1, 3 * WRITE_BLOCK + 17];
  for (const direct of [true, false]) {
    it.each(sizes)(`stores %i bytes exactly (direct I/O ${direct ? 'on' : 'off'})`, async (length) => {
      const bytes = randomBytes(length);
      const flagsSeen: number[] = [];
      const recording: OpenFile = (path, flags) => {
        flagsSeen.push(flags);
        return open(path, flags);
      };
      const { size, stored } = await writeThrough(nextPath(), bytes, 65_537, direct, recording);
      expect(size).toBe(length);
      expect(stored.equals(bytes)).toBe(true);
      expect(flagsSeen.map((flags) => (flags & (O_DIRECT ?? 0)) !== 0)).toEqual([
        direct && directIoAvailable,
      ]);
    });
  }

  it('reports any other write failure as a StorageError and still closes the file', async () => {
    let closed = false;
    const failingWrites: OpenFile = async (path, flags) => {
      const handle = await open(path, flags);
      const close = handle.close.bind(handle);
      return Object.assign(handle, {
        write: () => Promise.reject(errno('EIO')),
        close: async () => {
          closed = true;
          await close();
        },
      });
    };
    const writer = await BlobFileWriter.create(nextPath(), directIoAvailable, failingWrites);
    const error = await (async () => {
      for (let i = 0; i < 4; i++) await writer.push(Buffer.alloc(WRITE_BLOCK, i));
      await writer.finish();
    })().catch((caught: unknown) => caught);
    await writer.close();
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).message).toMatch(/write failed: EIO/);
    expect(closed).toBe(true);
  });
});

describe('AlignedBufferPool', () => {
  it('hands out page-aligned buffers that O_DIRECT accepts, and recycles them up to its idle bound', async () => {
    const pool = new AlignedBufferPool(64 * 1024, 5);
    const taken = Array.from({ length: 6 }, () => pool.take());
    expect(new Set(taken).size).toBe(6);
    expect(taken.every((buffer) => buffer.length === 64 * 1024)).toBe(true);
    if (directIoAvailable) {
      // A misaligned buffer makes an O_DIRECT write fail with EINVAL; these must all go through.
      const dir = await mkdtemp(join(tmpdir(), 'artifactstore-aligned-'));
      const handle = await open(join(dir, 'probe'), constants.O_WRONLY | constants.O_CREAT | (O_DIRECT ?? 0));
      try {
        for (const [index, buffer] of taken.entries()) {
          const { bytesWritten } = await handle.write(buffer, 0, buffer.length, index * buffer.length);
          expect(bytesWritten).toBe(buffer.length);
        }
      } finally {
        await handle.close();
        await rm(dir, { recursive: true, force: true });
      }
    }
    for (const buffer of taken) pool.give(buffer);
    expect(pool.idleCount).toBe(5);
    expect(taken).toContain(pool.take());
  });

  it('refuses a buffer size that is not a whole number of WebAssembly pages', () => {
    expect(() => new AlignedBufferPool(4096, 1)).toThrow(RangeError);
  });
});

describe('takesDirectWrites', () => {
  it('finds that the disk takes O_DIRECT writes (Linux, ext4) and leaves no probe behind', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'artifactstore-probe-'));
    try {
      await expect(takesDirectWrites(dir, 'probe.tmp')).resolves.toBe(directIoAvailable);
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
