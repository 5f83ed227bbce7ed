import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdtemp, open, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { blake3 } from '@artifactstore/codec';
import { IntegrityError } from './dataplane.errors.js';
import { AlignedBufferPool, DIRECT_IO_ALIGNMENT, O_DIRECT } from './direct-io.js';
import { sendFileRange, sendVerifiedFile } from './verified-file-sender.js';

const CHUNK = 4096;
/** The smallest buffers a pool has (64 KiB), so chunks are read into the start of larger buffers, as the store's may. */
const pool = new AlignedBufferPool(64 * 1024, 4, 8);

/** A destination that records what it was given and calls each write back after `delay` turns (or never). */
class RecordingDestination extends Writable {
  readonly parts: Buffer[] = [];
  /** Chunks whose bytes changed between the write and its callback: a buffer reused too early. */
  overwritten = 0;
  private readonly held: (() => void)[] = [];

  constructor(private readonly delay: number | 'never' = 0) {
    super({ highWaterMark: CHUNK });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const copy = Buffer.from(chunk);
    this.parts.push(copy);
    const done = () => {
      if (!chunk.equals(copy)) this.overwritten++;
      callback();
    };
    if (this.delay === 'never') this.held.push(done);
    else if (this.delay === 0) done();
    else void turns(this.delay).then(done);
  }

  get bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** Waits (on timers, so that the thread pool's reads get done) until `condition` holds; fails after 10 s. */
async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the sender');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

async function turns(count: number): Promise<void> {
  for (let turn = 0; turn < count; turn++) await new Promise((resolve) => setImmediate(resolve));
}

function describeSender(direct: boolean): void {
  describe(`sendVerifiedFile (${direct ? 'O_DIRECT' : 'page cache'}, ${CHUNK}-byte chunks)`, () => {
    let dir: string;

    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'artifactstore-sender-'));
    });

    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    /** Writes `onDisk`, opens it and counts the bytes the sender asks of it. */
    async function fileOf(onDisk: Buffer) {
      const path = join(dir, 'blob');
      await writeFile(path, onDisk);
      // tmpdir() is on the disk's filesystem here (ext4), so O_DIRECT reads really bypass the page cache.
      const handle = await open(path, direct ? constants.O_RDONLY | (O_DIRECT ?? 0) : constants.O_RDONLY);
      const counts = { bytesRequested: 0 };
      const counting = {
        read: (buffer: Buffer, offset: number, length: number, position: number) => {
          counts.bytesRequested += length;
          return handle.read(buffer, offset, length, position);
        },
        close: () => handle.close(),
      } as unknown as FileHandle;
      return { handle, counting, counts };
    }

    function send(
      handle: FileHandle,
      destination: Writable,
      expected: Buffer,
      readsInFlight = 2,
      buffers = 6,
    ) {
      return sendVerifiedFile(
        handle,
        destination,
        { blake3: blake3(expected), size: expected.length, key: 'test' },
        { chunkSize: CHUNK, readsInFlight, buffers, pool, direct },
      );
    }

    it.each([0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK, 7 * CHUNK + 13])(
      'writes a good file of %i bytes whole and ends the destination, whatever the reads in flight',
      async (size) => {
        const data = randomBytes(size);
        for (const [readsInFlight, buffers] of [
          [1, 3],
          [2, 4],
          [3, 8],
        ] as const) {
          const { handle, counting } = await fileOf(data);
          const destination = new RecordingDestination(1);
          await send(counting, destination, data, readsInFlight, buffers);
          expect(destination.bytes.equals(data)).toBe(true);
          expect(destination.writableFinished).toBe(true);
          expect(destination.overwritten).toBe(0);
          expect(handle.fd).toBe(-1);
        }
      },
    );

    it('never reuses a read buffer before the destination called its write back', async () => {
      const data = randomBytes(64 * CHUNK + 5);
      const { counting } = await fileOf(data);
      const destination = new RecordingDestination(3);
      await send(counting, destination, data);
      expect(destination.bytes.equals(data)).toBe(true);
      expect(destination.overwritten).toBe(0);
    });

    it.each([
      ['a flipped byte in the first chunk', 10],
      ['a flipped byte in the last chunk', 5 * CHUNK + 5],
    ])(
      'fails with an IntegrityError on %s, destroying the destination before the last bytes',
      async (_l, at) => {
        const good = randomBytes(5 * CHUNK + 100);
        const bad = Buffer.from(good);
        bad[at] = (bad[at] ?? 0) ^ 0xff;
        const { handle, counting } = await fileOf(bad);
        const destination = new RecordingDestination();
        destination.on('error', () => undefined);
        await expect(send(counting, destination, good)).rejects.toBeInstanceOf(IntegrityError);
        expect(destination.destroyed).toBe(true);
        expect(destination.bytes.length).toBeLessThan(good.length);
        expect(handle.fd).toBe(-1);
      },
    );

    it('leaves the destination to the caller when the damage shows before anything was written', async () => {
      const good = randomBytes(CHUNK - 10);
      const bad = Buffer.from(good);
      bad[5] = (bad[5] ?? 0) ^ 0xff;
      const { handle, counting } = await fileOf(bad);
      const destination = new RecordingDestination();
      await expect(send(counting, destination, good)).rejects.toBeInstanceOf(IntegrityError);
      expect(destination.destroyed).toBe(false);
      expect(destination.parts).toEqual([]);
      expect(handle.fd).toBe(-1);
    });

    it('fails with an IntegrityError on a truncated file and on a longer one', async () => {
      const good = randomBytes(4 * CHUNK);
      for (const onDisk of [good.subarray(0, 3 * CHUNK + 7), Buffer.concat([good, Buffer.from('tail')])]) {
        const { counting } = await fileOf(onDisk);
        const destination = new RecordingDestination();
        destination.on('error', () => undefined);
        await expect(send(counting, destination, good)).rejects.toBeInstanceOf(IntegrityError);
        expect(destination.bytes.length).toBeLessThan(good.length);
      }
    });

    it('reads no further ahead than its buffers while the destination does not call back', async () => {
      const data = randomBytes(200 * CHUNK);
      const { handle, counting, counts } = await fileOf(data);
      const destination = new RecordingDestination('never');
      const sent = send(counting, destination, data, 2, 5);
      // Five buffers: once four chunks are written (and never called back) and one is held back, reading stops.
      await until(() => counts.bytesRequested >= 5 * CHUNK && destination.writableLength >= 3 * CHUNK);
      await turns(100);
      expect(counts.bytesRequested).toBe(5 * CHUNK);
      expect(destination.parts.length).toBe(1); // the Writable holds the others until the first is called back
      destination.destroy();
      await expect(sent).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
      expect(handle.fd).toBe(-1);
    });

    it('rejects as stream.finished does when the destination closes early, and closes the file', async () => {
      const data = randomBytes(300 * CHUNK);
      const { handle, counting, counts } = await fileOf(data);
      const destination = new RecordingDestination(1);
      const sent = send(counting, destination, data);
      await until(() => destination.parts.length > 0);
      destination.destroy();
      await expect(sent).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
      expect(handle.fd).toBe(-1);
      expect(counts.bytesRequested).toBeLessThan(data.length);
    });

    describe('sendFileRange', () => {
      const data = randomBytes(9 * CHUNK + 321);
      function sendRange(
        handle: FileHandle,
        destination: Writable,
        start: number,
        end: number,
        chunkSize = CHUNK,
      ) {
        return sendFileRange(
          handle,
          destination,
          { start, end, key: 'test' },
          { chunkSize, readsInFlight: 2, buffers: 4, pool, direct },
        );
      }

      /** Leaves the pool with as many idle buffers as it keeps, so that one not given back shows. */
      function fillPool(): number {
        const taken = Array.from({ length: 8 }, () => pool.take());
        for (const buffer of taken) pool.give(buffer);
        return pool.idleCount;
      }

      // Chunks of one block and of three, so that the first read's start is rounded to a block, not a chunk.
      it.each(
        [
          [0, 0],
          [0, data.length - 1],
          [1, CHUNK],
          [CHUNK - 1, CHUNK],
          [CHUNK, 2 * CHUNK - 1],
          [CHUNK + 7, 6 * CHUNK + 1],
          [data.length - 1, data.length - 1],
          [3 * CHUNK + 100, data.length - 1],
        ]
          .map(([start = 0, end = 0]) => [start, end] as const)
          .flatMap(([start, end]) => [1, 3].map((blocks) => [start, end, blocks * CHUNK] as const)),
      )(
        'writes bytes %i-%i exactly (%i-byte chunks), reads no block outside them',
        async (start, end, chunk) => {
          const idle = fillPool();
          const { handle, counting, counts } = await fileOf(data);
          const destination = new RecordingDestination(1);
          await sendRange(counting, destination, start, end, chunk);
          expect(destination.bytes.equals(data.subarray(start, end + 1))).toBe(true);
          expect(destination.writableFinished).toBe(true);
          expect(destination.overwritten).toBe(0);
          const firstBlock = Math.floor(start / DIRECT_IO_ALIGNMENT);
          const blocks = Math.floor(end / DIRECT_IO_ALIGNMENT) - firstBlock + 1;
          expect(counts.bytesRequested).toBe(direct ? blocks * DIRECT_IO_ALIGNMENT : end - start + 1);
          expect(handle.fd).toBe(-1);
          expect(pool.idleCount).toBe(idle);
        },
      );

      it('fails with an IntegrityError when the file ends inside the range, after what it could send', async () => {
        const idle = fillPool();
        const { handle, counting } = await fileOf(data.subarray(0, 5 * CHUNK + 9));
        const destination = new RecordingDestination();
        destination.on('error', () => undefined);
        await expect(sendRange(counting, destination, 10, 8 * CHUNK)).rejects.toBeInstanceOf(IntegrityError);
        expect(destination.destroyed).toBe(true);
        // Every whole chunk before the short one went out: reads start at byte 10, or at 0 (its block) when direct.
        expect(destination.bytes.equals(data.subarray(10, direct ? 5 * CHUNK : 10 + 4 * CHUNK))).toBe(true);
        expect(handle.fd).toBe(-1);
        expect(pool.idleCount).toBe(idle);
      });

      it('leaves the destination to the caller when the file ends before the range starts', async () => {
        const { handle, counting } = await fileOf(data.subarray(0, 2 * CHUNK));
        const destination = new RecordingDestination();
        await expect(sendRange(counting, destination, 3 * CHUNK, 5 * CHUNK)).rejects.toBeInstanceOf(
          IntegrityError,
        );
        expect(destination.destroyed).toBe(false);
        expect(destination.parts).toEqual([]);
        expect(handle.fd).toBe(-1);
      });

      it('rejects as stream.finished does when the destination closes early, and gives its buffers back', async () => {
        const idle = fillPool();
        const big = randomBytes(300 * CHUNK);
        const { handle, counting } = await fileOf(big);
        const destination = new RecordingDestination(1);
        const sent = sendRange(counting, destination, 5, big.length - 5);
        await until(() => destination.parts.length > 0);
        destination.destroy();
        await expect(sent).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
        expect(handle.fd).toBe(-1);
        await until(() => pool.idleCount === idle);
      });

      it('refuses a range that ends before it starts or is not whole numbers, and closes the file', async () => {
        for (const [start, end] of [
          [10, 9],
          [0, Number.NaN],
          [0.5, 10],
        ] as const) {
          const { handle } = await fileOf(data);
          await expect(sendRange(handle, new RecordingDestination(), start, end)).rejects.toBeInstanceOf(
            RangeError,
          );
          expect(handle.fd).toBe(-1);
        }
      });
    });
  });
}

describeSender(false);
describeSender(true);

describe('sendVerifiedFile options', () => {
  it('refuses a chunk larger than its buffers or not whole blocks for direct reads, and too few buffers', async () => {
    const expected = { blake3: Buffer.alloc(32), size: 0, key: 'k' };
    for (const options of [
      { chunkSize: 0, readsInFlight: 2, buffers: 6, pool, direct: false },
      { chunkSize: 128 * 1024, readsInFlight: 2, buffers: 6, pool, direct: false },
      { chunkSize: 1000, readsInFlight: 2, buffers: 6, pool, direct: true },
      { chunkSize: CHUNK, readsInFlight: 0, buffers: 6, pool, direct: false },
      { chunkSize: CHUNK, readsInFlight: 2, buffers: 3, pool, direct: false },
    ]) {
      let closed = false;
      const handle = { close: () => ((closed = true), Promise.resolve()) } as unknown as FileHandle;
      await expect(sendVerifiedFile(handle, new Writable(), expected, options)).rejects.toBeInstanceOf(
        RangeError,
      );
      expect(closed).toBe(true);
    }
  });
});
