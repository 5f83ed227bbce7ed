import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { createHash as createIndependentBlake3 } from 'blake3-wasm';
import {
  BlobNotFoundError,
  DigestMismatchError,
  IncompleteStreamError,
  IntegrityError,
  RangeNotSatisfiableError,
  SizeLimitExceededError,
  StorageError,
  VERIFY_HOLD_BACK,
  type BlobStore,
  type SendOutcome,
} from '@artifactstore/dataplane';

/** One backend under test, with the hooks the contract needs that the BlobStore interface does not offer. */
export interface BlobStoreUnderTest {
  readonly store: BlobStore;
  /** Flips a byte of the stored blob behind the store's back. */
  corrupt(key: string): Promise<void>;
  /**
   * Temp files or staging objects left in the backend, each named as a receipt's `staging` names it (and open
   * multipart uploads, described).
   */
  leftovers(): Promise<string[]>;
  dispose(): Promise<void>;
}

const MiB = 1 << 20;

/** Pseudo-random bytes of `size`, in chunks, with their digests computed independently of the dataplane. */
function sample(size: number, chunkSize = 256 * 1024) {
  const block = randomBytes(Math.min(Math.max(size, 1), 4 * MiB));
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < size; offset += chunkSize) {
    const length = Math.min(chunkSize, size - offset);
    const start = offset % block.length;
    chunks.push(
      start + length <= block.length
        ? block.subarray(start, start + length)
        : Buffer.concat([block.subarray(start), block.subarray(0, length - (block.length - start))]),
    );
  }
  const sha256 = createHash('sha256');
  const blake3 = createIndependentBlake3();
  for (const chunk of chunks) {
    sha256.update(chunk);
    blake3.update(chunk);
  }
  return { chunks, size, sha256: sha256.digest(), blake3: Buffer.from(blake3.digest()) };
}

/** A destination that keeps what it is sent. */
class Collector extends Writable {
  private readonly parts: Buffer[] = [];

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.parts.push(Buffer.from(chunk));
    this.emit('chunk');
    callback();
  }

  get bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** A send that failed with `errorType` after `bytesWritten` bytes. */
function expectFailure(
  outcome: SendOutcome,
  errorType: new (...args: never[]) => Error,
  bytesWritten: number,
): void {
  expect(outcome.ok).toBe(false);
  expect(outcome.bytesWritten).toBe(bytesWritten);
  if (!outcome.ok) expect(outcome.error).toBeInstanceOf(errorType);
}

/** Neither written to, nor ended, nor destroyed: the caller can still answer on it. */
function expectUntouched(destination: Collector): void {
  expect(destination.bytes.length).toBe(0);
  expect(destination.writableEnded).toBe(false);
  expect(destination.destroyed).toBe(false);
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

async function* failingAfter(chunks: readonly Buffer[], count: number): AsyncGenerator<Buffer> {
  for (const chunk of chunks.slice(0, count)) yield chunk;
  await new Promise((resolve) => setTimeout(resolve, 5));
  throw new Error('client disconnected');
}

/**
 * The behaviour every BlobStore must have (issue #3), written once: run it against each backend with a factory
 * that gives a fresh, empty store.
 */
export function describeBlobStore(name: string, makeStore: () => Promise<BlobStoreUnderTest>): void {
  describe(`BlobStore contract: ${name}`, () => {
    let subject: BlobStoreUnderTest;
    let store: BlobStore;

    beforeEach(async () => {
      subject = await makeStore();
      store = subject.store;
    });

    afterEach(async () => {
      await subject.dispose();
    });

    const keys = async (): Promise<string[]> => {
      const all: string[] = [];
      for await (const key of store.list()) all.push(key);
      return all;
    };

    const expectNothingStored = async (): Promise<void> => {
      expect(await keys()).toEqual([]);
      expect(await subject.leftovers()).toEqual([]);
    };

    it.each([
      ['empty', 0],
      ['1 byte', 1],
      ['1 MiB', MiB],
      ['200 MiB', 200 * MiB],
    ])('round-trips a %s stream with both digests right', async (_label, size) => {
      const input = sample(size);
      const receipt = await store.ingest(Readable.from(input.chunks));
      expect(receipt.size).toBe(size);
      expect(receipt.sha256.equals(input.sha256)).toBe(true);
      expect(receipt.blake3.equals(input.blake3)).toBe(true);
      expect(receipt.key).toBe(input.blake3.toString('hex'));
      expect(receipt.backend).toBe(store.backend);
      expect(await store.stat(receipt.key)).toEqual({ size });

      const sha256 = createHash('sha256');
      let read = 0;
      for await (const chunk of await store.open(receipt.key)) {
        sha256.update(chunk as Buffer);
        read += (chunk as Buffer).length;
      }
      expect(read).toBe(size);
      expect(sha256.digest().equals(input.sha256)).toBe(true);
      expect(await subject.leftovers()).toEqual([receipt.staging]);
      await store.releaseStaging(receipt);
      expect(await subject.leftovers()).toEqual([]);
    });

    it.each([
      ['a wrong BLAKE3', { expectedBlake3: Buffer.alloc(32) }, DigestMismatchError],
      ['a wrong SHA-256', { expectedSha256: Buffer.alloc(32, 7) }, DigestMismatchError],
      ['a declared size that is too small', { expectedSize: 1000 }, SizeLimitExceededError],
      ['a declared size that is too large', { expectedSize: 5000 }, IncompleteStreamError],
      ['a size limit', { maxSize: 4095 }, SizeLimitExceededError],
    ])('stores nothing and keeps no staging copy on %s', async (_label, options, errorType) => {
      const input = sample(4096, 1000);
      await expect(store.ingest(Readable.from(input.chunks), options)).rejects.toBeInstanceOf(errorType);
      await expectNothingStored();
    });

    it('accepts the right declared size and digests', async () => {
      const input = sample(4096, 1000);
      const receipt = await store.ingest(Readable.from(input.chunks), {
        expectedSize: 4096,
        expectedSha256: input.sha256,
        expectedBlake3: input.blake3,
        maxSize: 4096,
      });
      expect(receipt.size).toBe(4096);
    });

    it('stores nothing and leaves no temp file when the source fails half-way', async () => {
      const input = sample(2 * MiB, 64 * 1024);
      const error = await store.ingest(failingAfter(input.chunks, 16)).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(IncompleteStreamError);
      expect((error as IncompleteStreamError).code).toBe('incomplete_stream');
      await expectNothingStored();
    });

    it('stores identical bytes once, also when two ingests race', async () => {
      const input = sample(3 * MiB, 64 * 1024);
      const receipts = await Promise.all([
        store.ingest(Readable.from(input.chunks)),
        store.ingest(Readable.from(input.chunks)),
        store.ingest(Readable.from(input.chunks)),
      ]);
      expect(new Set(receipts.map((receipt) => receipt.key)).size).toBe(1);
      expect(await keys()).toEqual([receipts[0].key]);
      const staging = receipts.map((receipt) => receipt.staging).sort();
      expect(new Set(staging).size).toBe(3);
      expect((await subject.leftovers()).sort()).toEqual(staging);
      const again = await store.ingest(Readable.from(input.chunks));
      expect(again).toEqual({ ...receipts[0], staging: again.staging });
      expect((await readAll(await store.open(again.key))).equals(Buffer.concat(input.chunks))).toBe(true);
      for (const receipt of [...receipts, again]) await store.releaseStaging(receipt);
      expect(await subject.leftovers()).toEqual([]);
    });

    it('keeps the staging copy until releaseStaging, which is idempotent', async () => {
      const input = sample(MiB + 17);
      const receipt = await store.ingest(Readable.from(input.chunks));
      expect(await store.exists(receipt.key)).toBe(true);
      expect(await subject.leftovers()).toEqual([receipt.staging]);
      await store.releaseStaging(receipt);
      expect(await subject.leftovers()).toEqual([]);
      await expect(store.releaseStaging(receipt)).resolves.toBeUndefined();
      expect((await readAll(await store.open(receipt.key))).equals(Buffer.concat(input.chunks))).toBe(true);
    });

    it('puts a deleted blob back from the staging copy, once', async () => {
      const input = sample(3 * MiB + 5, 100_000);
      const receipt = await store.ingest(Readable.from(input.chunks));
      expect(await store.ensureStored(receipt)).toBe(false);
      expect(await store.delete(receipt.key)).toBe(true);
      expect(await store.ensureStored(receipt)).toBe(true);
      expect(await store.stat(receipt.key)).toEqual({ size: input.size });
      expect((await readAll(await store.open(receipt.key))).equals(Buffer.concat(input.chunks))).toBe(true);
      expect(await store.ensureStored(receipt)).toBe(false);
      expect(await keys()).toEqual([receipt.key]);
    });

    it("puts a deleted blob back from a duplicate ingest's own staging copy", async () => {
      const input = sample(2 * MiB + 3, 64 * 1024);
      const first = await store.ingest(Readable.from(input.chunks));
      const second = await store.ingest(Readable.from(input.chunks));
      expect(second.key).toBe(first.key);
      expect(second.staging).not.toBe(first.staging);
      expect((await subject.leftovers()).sort()).toEqual([first.staging, second.staging].sort());
      await store.releaseStaging(first);
      await store.delete(first.key);
      expect(await store.ensureStored(second)).toBe(true);
      expect((await readAll(await store.open(second.key))).equals(Buffer.concat(input.chunks))).toBe(true);
    });

    it('fails with a StorageError when both the blob and its staging copy are gone', async () => {
      const receipt = await store.ingest([Buffer.alloc(5000, 9)]);
      await store.releaseStaging(receipt);
      await store.delete(receipt.key);
      const error = await store.ensureStored(receipt).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(StorageError);
      expect((error as StorageError).message).toBe(
        `blob ${receipt.key} is missing and so is its staging copy`,
      );
      expect(await store.exists(receipt.key)).toBe(false);
    });

    it('catches a blob corrupted in storage on a full read, before its last bytes go out', async () => {
      const input = sample(3 * MiB + 123);
      const { key } = await store.ingest(Readable.from(input.chunks));
      await subject.corrupt(key);
      let received = 0;
      const error = await (async () => {
        for await (const chunk of await store.open(key)) received += (chunk as Buffer).length;
      })().catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(IntegrityError);
      expect(received).toBeLessThanOrEqual(input.size - VERIFY_HOLD_BACK);
    });

    it('serves ranges exactly, without verification, and refuses ranges outside the blob', async () => {
      const input = sample(2 * MiB + 17, 100_000);
      const all = Buffer.concat(input.chunks);
      const { key } = await store.ingest(Readable.from(input.chunks));
      for (const [start, end] of [
        [0, 0],
        [0, 99],
        [1_000_000, 1_500_000],
        [all.length - 1, all.length - 1],
        [5, all.length - 1],
      ] as const) {
        expect(
          (await readAll(await store.open(key, { start, end }))).equals(all.subarray(start, end + 1)),
        ).toBe(true);
      }
      expect(
        (await readAll(await store.open(key, { start: all.length - 10 }))).equals(all.subarray(-10)),
      ).toBe(true);
      await expect(store.open(key, { start: all.length })).rejects.toBeInstanceOf(RangeNotSatisfiableError);
      await expect(store.open(key, { start: 10, end: 5 })).rejects.toBeInstanceOf(RangeNotSatisfiableError);
    });

    it('sends whole blobs verified and ranges of any size exactly, reporting the bytes written', async () => {
      const input = sample(5 * MiB + 4_099, 300_000);
      const all = Buffer.concat(input.chunks);
      const { key } = await store.ingest(Readable.from(input.chunks));
      const whole = new Collector();
      expect(await store.send(key, whole)).toEqual({ ok: true, bytesWritten: all.length });
      expect(whole.bytes.equals(all)).toBe(true);
      for (const [start, end] of [
        [0, 0],
        [4_095, 4_097],
        [1_000_001, 1_000_001 + 2 * MiB],
        [5, all.length - 1],
        [0, all.length - 1],
        [all.length - 3 * MiB - 1, all.length - 1],
      ] as const) {
        const part = new Collector();
        expect(await store.send(key, part, { start, end })).toEqual({
          ok: true,
          bytesWritten: end - start + 1,
        });
        expect(part.bytes.equals(all.subarray(start, end + 1))).toBe(true);
        expect(part.writableFinished).toBe(true);
      }
    });

    it('reports a range outside the blob and a missing blob without touching the destination', async () => {
      const { key, size } = await store.ingest([Buffer.alloc(1000, 1)]);
      for (const [sent, errorType] of [
        [{ key, range: { start: size } }, RangeNotSatisfiableError],
        [{ key: '0'.repeat(64), range: {} }, BlobNotFoundError],
        [{ key: '0'.repeat(64), range: { start: 0, end: 3 * MiB } }, BlobNotFoundError],
      ] as const) {
        const destination = new Collector();
        const outcome = await store.send(sent.key, destination, sent.range);
        expectFailure(outcome, errorType, 0);
        expectUntouched(destination);
      }
    });

    it('reports damage found before the first byte, leaving the destination untouched', async () => {
      const input = sample(VERIFY_HOLD_BACK - 4096);
      const { key } = await store.ingest(Readable.from(input.chunks));
      await subject.corrupt(key);
      const destination = new Collector();
      expectFailure(await store.send(key, destination), IntegrityError, 0);
      expectUntouched(destination);
    });

    it('reports damage found after some bytes went out, before the last VERIFY_HOLD_BACK, leaving the destination open', async () => {
      const input = sample(3 * VERIFY_HOLD_BACK + 123);
      const { key } = await store.ingest(Readable.from(input.chunks));
      await subject.corrupt(key);
      const destination = new Collector();
      const outcome = await store.send(key, destination);
      expect(outcome.bytesWritten).toBeGreaterThan(0);
      expectFailure(outcome, IntegrityError, destination.bytes.length);
      expect(outcome.bytesWritten).toBeLessThanOrEqual(input.size - VERIFY_HOLD_BACK);
      expect(destination.destroyed).toBe(false);
      expect(destination.writableEnded).toBe(false);
    });

    it('reports a destination that closes first, and stops reading', async () => {
      const input = sample(3 * VERIFY_HOLD_BACK);
      const { key } = await store.ingest(Readable.from(input.chunks));
      const destination = new Collector();
      destination.once('chunk', () => destination.destroy());
      const outcome = await store.send(key, destination);
      expect(outcome.ok).toBe(false);
      expect(outcome.bytesWritten).toBeLessThan(input.size);
    });

    it('answers exists, stat, delete and list', async () => {
      const a = await store.ingest(Readable.from([Buffer.from('a')]));
      const b = await store.ingest(Readable.from([Buffer.from('b')]));
      expect((await keys()).sort()).toEqual([a.key, b.key].sort());
      expect(await store.exists(a.key)).toBe(true);
      expect(await store.delete(a.key)).toBe(true);
      expect(await store.delete(a.key)).toBe(false);
      expect(await store.exists(a.key)).toBe(false);
      expect(await store.stat(a.key)).toBeUndefined();
      expect(await keys()).toEqual([b.key]);
      await expect(store.open(a.key)).rejects.toBeInstanceOf(BlobNotFoundError);
      await expect(store.open('not-a-key')).rejects.toBeInstanceOf(BlobNotFoundError);
      expect(await store.exists('../../etc/passwd')).toBe(false);
    });

    it('lists every blob with its size and when it was written', async () => {
      const before = Date.now();
      const empty = await store.ingest([]);
      const small = await store.ingest([Buffer.alloc(5000, 3)]);
      const large = await store.ingest(sample(2 * MiB + 1).chunks);
      const after = Date.now();
      const listed = [];
      for await (const blob of store.listWithSizes()) listed.push(blob);
      // Some slack: S3 dates have whole seconds, and a filesystem's clock ticks coarser than Date.now().
      for (const { modifiedAt } of listed) {
        expect(modifiedAt).toBeGreaterThanOrEqual(before - 5_000);
        expect(modifiedAt).toBeLessThanOrEqual(after + 5_000);
      }
      const byKey = (x: { key: string }, y: { key: string }) => x.key.localeCompare(y.key);
      expect(listed.map(({ key, size }) => ({ key, size })).sort(byKey)).toEqual(
        [
          { key: empty.key, size: 0 },
          { key: small.key, size: 5000 },
          { key: large.key, size: 2 * MiB + 1 },
        ].sort(byKey),
      );
      await store.delete(small.key);
      const remaining = [];
      for await (const blob of store.listWithSizes()) remaining.push(blob.key);
      expect(remaining.sort()).toEqual([empty.key, large.key].sort());
    });

    it('reports that it takes writes, and leaves nothing behind doing so', async () => {
      await expect(store.checkWritable()).resolves.toBeUndefined();
      expect(await keys()).toEqual([]);
      expect(await subject.leftovers()).toEqual([]);
    });
  });
}
