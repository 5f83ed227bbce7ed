import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { blake3, DualHasher } from '@artifactstore/codec';
import {
  IncompleteStreamError,
  type BlobStore,
  type StagedUploadState,
  type UploadStaging,
} from '@artifactstore/dataplane';

/** One backend's UploadStaging beside its BlobStore, for the contract below. */
export interface UploadStagingUnderTest {
  readonly staging: UploadStaging;
  readonly store: BlobStore;
  /** The receipts' staging copies and open multipart uploads left in the backend, as BlobStoreUnderTest names them. */
  leftovers(): Promise<string[]>;
  dispose(): Promise<void>;
}

const MiB = 1 << 20;

/** `bytes` in chunks, as a stream delivers them. */
function chunksOf(bytes: Buffer, size = 256 * 1024): Readable {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
  return Readable.from(chunks, { objectMode: false });
}

async function readStaged(staging: UploadStaging, id: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of staging.read(id)) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

async function readBlob(store: BlobStore, key: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of await store.open(key)) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

async function keysOf(store: BlobStore): Promise<string[]> {
  const keys: string[] = [];
  for await (const blob of store.listWithSizes()) keys.push(blob.key);
  return keys;
}

function newId(): string {
  return randomBytes(16).toString('hex');
}

function digestsOf(bytes: Buffer) {
  const hasher = new DualHasher();
  hasher.update(bytes);
  return hasher.digests();
}

/** The behaviour every UploadStaging has, whatever the backend (ADR 0014). */
export function describeUploadStaging(name: string, make: () => Promise<UploadStagingUnderTest>): void {
  describe(`${name}: resumable upload staging`, () => {
    let subject: UploadStagingUnderTest;

    beforeEach(async () => {
      subject = await make();
    });

    afterEach(async () => {
      await subject.dispose();
    });

    it('keeps the document, counts the bytes appended, and reads them back in order', async () => {
      const { staging } = subject;
      const id = newId();
      await staging.create(id, '{"length":1}');
      const created = (await staging.state(id)) as StagedUploadState;
      expect(created.document).toBe('{"length":1}');
      expect(created.offset).toBe(0);
      expect(created.completion).toBeUndefined();
      // Sizes around S3's 5 MiB part minimum: a small piece, then one that must absorb it, then a small tail.
      const parts = [randomBytes(MiB + 3), randomBytes(7 * MiB), randomBytes(3 * MiB + 1), randomBytes(17)];
      let offset = 0;
      for (const part of parts) {
        offset = await staging.append(id, offset, chunksOf(part));
        expect((await staging.state(id))?.offset).toBe(offset);
      }
      expect(offset).toBe(parts.reduce((sum, part) => sum + part.length, 0));
      expect((await readStaged(staging, id)).equals(Buffer.concat(parts))).toBe(true);
      expect([...(await collect(staging.ids()))]).toContain(id);
    });

    it('keeps the bytes a failing source yielded before it failed, and rethrows its error', async () => {
      const { staging } = subject;
      const id = newId();
      await staging.create(id, '{}');
      const first = randomBytes(2 * MiB + 5);
      async function* failing(): AsyncGenerator<Buffer> {
        for await (const chunk of chunksOf(first)) yield chunk as Buffer;
        throw new IncompleteStreamError('client gone');
      }
      await expect(staging.append(id, 0, failing())).rejects.toBeInstanceOf(IncompleteStreamError);
      expect((await staging.state(id))?.offset).toBe(first.length);
      const second = randomBytes(MiB);
      expect(await staging.append(id, first.length, chunksOf(second))).toBe(first.length + second.length);
      expect((await readStaged(staging, id)).equals(Buffer.concat([first, second]))).toBe(true);
    });

    it('drops the bytes after an offset on truncate', async () => {
      const { staging } = subject;
      const id = newId();
      await staging.create(id, '{}');
      const bytes = randomBytes(9 * MiB + 7);
      await staging.append(id, 0, chunksOf(bytes.subarray(0, 2 * MiB)));
      await staging.append(id, 2 * MiB, chunksOf(bytes.subarray(2 * MiB)));
      await staging.truncate(id, 2 * MiB + 11);
      expect((await staging.state(id))?.offset).toBe(2 * MiB + 11);
      expect((await readStaged(staging, id)).equals(bytes.subarray(0, 2 * MiB + 11))).toBe(true);
    });

    it('never shows staged bytes as blobs; completes them into a blob with a staging copy, then forgets them', async () => {
      const { staging, store } = subject;
      const id = newId();
      await staging.create(id, '{}');
      const bytes = randomBytes(6 * MiB + 123);
      await staging.append(id, 0, chunksOf(bytes.subarray(0, 5 * MiB + 1)));
      await staging.append(id, 5 * MiB + 1, chunksOf(bytes.subarray(5 * MiB + 1)));
      expect(await keysOf(store)).toEqual([]);
      const receipt = await staging.complete(id, digestsOf(bytes));
      expect(receipt.key).toBe(blake3(bytes).toString('hex'));
      expect(receipt.size).toBe(bytes.length);
      expect((await readBlob(store, receipt.key)).equals(bytes)).toBe(true);
      expect(await keysOf(store)).toEqual([receipt.key]);
      // The staging copy puts the blob back should it go before the commit, as an ingest's does.
      await store.delete(receipt.key);
      expect(await store.ensureStored(receipt)).toBe(true);
      await store.releaseStaging(receipt);
      expect(await subject.leftovers()).toEqual([]);
      await staging.markCompleted(id, '{"file_id":"f"}');
      expect((await staging.state(id))?.completion).toBe('{"file_id":"f"}');
      await staging.remove(id);
      expect(await staging.state(id)).toBeUndefined();
      expect([...(await collect(staging.ids()))]).not.toContain(id);
      expect((await readBlob(store, receipt.key)).equals(bytes)).toBe(true);
    });

    it('completes an empty upload, and one already stored as a blob', async () => {
      const { staging, store } = subject;
      const empty = newId();
      await staging.create(empty, '{}');
      const emptyReceipt = await staging.complete(empty, digestsOf(Buffer.alloc(0)));
      expect((await readBlob(store, emptyReceipt.key)).length).toBe(0);
      await store.releaseStaging(emptyReceipt);
      const bytes = randomBytes(1000);
      const ingested = await store.ingest(chunksOf(bytes));
      await store.releaseStaging(ingested);
      const again = newId();
      await staging.create(again, '{}');
      await staging.append(again, 0, chunksOf(bytes));
      const receipt = await staging.complete(again, digestsOf(bytes));
      expect(receipt.key).toBe(ingested.key);
      await store.releaseStaging(receipt);
      expect(await subject.leftovers()).toEqual([]);
    });

    it('knows no upload by an id that is not one, or that was never created', async () => {
      const { staging } = subject;
      expect(await staging.state('../../etc')).toBeUndefined();
      expect(await staging.state(newId())).toBeUndefined();
      await staging.remove('../x');
    });
  });
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}
