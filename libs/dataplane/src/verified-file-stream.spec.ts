import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdtemp, open, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blake3 } from '@artifactstore/codec';
import { IntegrityError } from './dataplane.errors.js';
import { DIRECT_IO_ALIGNMENT } from './direct-io.js';
import { VerifiedFileStream } from './verified-file-stream.js';

const O_DIRECT = (constants as { O_DIRECT?: number }).O_DIRECT;

/** The suite, through the page cache with small chunks, or with O_DIRECT (Linux) and the smallest aligned chunk. */
function describeVerifiedFileStream(direct: boolean, CHUNK: number): void {
  describe(`VerifiedFileStream (${direct ? 'O_DIRECT' : 'page cache'}, ${CHUNK}-byte chunks)`, () => {
    let dir: string;

    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'artifactstore-verified-'));
    });

    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    /** Writes `onDisk` and opens a verified stream that expects `expected`, counting the reads it starts. */
    async function streamOf(onDisk: Buffer, expected = onDisk, readsInFlight = 2) {
      const path = join(dir, 'blob');
      await writeFile(path, onDisk);
      // tmpdir() is on the disk's filesystem here (ext4), so O_DIRECT reads really bypass the page cache.
      const handle = await open(path, direct ? constants.O_RDONLY | (O_DIRECT ?? 0) : constants.O_RDONLY);
      const counts = { reads: 0, bytesRequested: 0 };
      const counting = {
        read: (buffer: Buffer, offset: number, length: number, position: number) => {
          counts.reads++;
          counts.bytesRequested += length;
          return handle.read(buffer, offset, length, position);
        },
        close: () => handle.close(),
      } as unknown as FileHandle;
      const stream = new VerifiedFileStream(counting, blake3(expected), expected.length, 'test', {
        chunkSize: CHUNK,
        readsInFlight,
        direct,
      });
      return { stream, handle, counts };
    }

    async function readAll(stream: VerifiedFileStream): Promise<{ bytes: Buffer; error: unknown }> {
      const parts: Buffer[] = [];
      try {
        for await (const part of stream) parts.push(part as Buffer);
        return { bytes: Buffer.concat(parts), error: undefined };
      } catch (error) {
        return { bytes: Buffer.concat(parts), error };
      }
    }

    it.each([0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK, 7 * CHUNK + 13])(
      'delivers a good file of %i bytes whole, whatever the reads in flight',
      async (size) => {
        const data = randomBytes(size);
        for (const readsInFlight of [1, 2, 3]) {
          const { stream, handle } = await streamOf(data, data, readsInFlight);
          const { bytes, error } = await readAll(stream);
          expect(error).toBeUndefined();
          expect(bytes.equals(data)).toBe(true);
          expect(handle.fd).toBe(-1); // closed once the stream ended
        }
      },
    );

    it('hands out a fresh buffer for every chunk', async () => {
      const { stream } = await streamOf(randomBytes(6 * CHUNK));
      const buffers = new Set<ArrayBufferLike>();
      for await (const chunk of stream) buffers.add((chunk as Buffer).buffer);
      expect(buffers.size).toBe(6);
    });

    it.each([
      ['a flipped byte in the first chunk', 10],
      ['a flipped byte in the last chunk', 5 * CHUNK + 5],
    ])('fails with an IntegrityError on %s, before the last bytes go out', async (_label, at) => {
      const good = randomBytes(5 * CHUNK + 100);
      const bad = Buffer.from(good);
      bad[at] = (bad[at] ?? 0) ^ 0xff;
      const { stream, handle } = await streamOf(bad, good);
      const { bytes, error } = await readAll(stream);
      expect(error).toBeInstanceOf(IntegrityError);
      expect(bytes.length).toBeLessThan(good.length);
      expect(handle.fd).toBe(-1);
    });

    it('fails with an IntegrityError on a truncated file', async () => {
      const good = randomBytes(4 * CHUNK);
      const { stream } = await streamOf(good.subarray(0, 3 * CHUNK + 7), good);
      const { bytes, error } = await readAll(stream);
      expect(error).toBeInstanceOf(IntegrityError);
      expect(bytes.length).toBeLessThan(3 * CHUNK + 7);
    });

    it.each([4 * CHUNK, 4 * CHUNK + 9])(
      'fails with an IntegrityError on a file longer than %i bytes whose start is right',
      async (size) => {
        const good = randomBytes(size);
        const { stream } = await streamOf(Buffer.concat([good, Buffer.from('tail')]), good);
        const { bytes, error } = await readAll(stream);
        expect(error).toBeInstanceOf(IntegrityError);
        expect(bytes.length).toBeLessThan(size);
      },
    );

    it('closes the file when the reader stops early', async () => {
      const { stream, handle } = await streamOf(randomBytes(50 * CHUNK));
      for await (const _chunk of stream) break; // destroys the stream
      await new Promise((resolve) => stream.once('close', resolve));
      expect(handle.fd).toBe(-1);
    });

    it('reads no further ahead than its buffer, the held chunk and the reads in flight while nobody reads', async () => {
      const { stream, counts } = await streamOf(randomBytes(200 * CHUNK));
      const iterator = stream[Symbol.asyncIterator]();
      await iterator.next();
      for (let turn = 0; turn < 200; turn++) await new Promise((resolve) => setImmediate(resolve));
      // One chunk delivered, one in the readable buffer (highWaterMark = one chunk), one held back, two in flight.
      expect(counts.bytesRequested).toBeLessThanOrEqual(5 * CHUNK);
      stream.destroy();
    });
  });
}

describeVerifiedFileStream(false, 1024);
describeVerifiedFileStream(true, DIRECT_IO_ALIGNMENT);

describe('VerifiedFileStream options', () => {
  it('refuses a direct read chunk that is not whole aligned blocks within one pooled buffer', () => {
    const handle = {} as FileHandle;
    const options = (chunkSize: number) => ({ chunkSize, readsInFlight: 2, direct: true });
    expect(() => new VerifiedFileStream(handle, Buffer.alloc(32), 0, 'k', options(1000))).toThrow(RangeError);
    expect(() => new VerifiedFileStream(handle, Buffer.alloc(32), 0, 'k', options(2 << 20))).toThrow(
      RangeError,
    );
  });
});
