import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, open, rename, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { createBlake3, createSha256 } from '@artifactstore/codec';
import type { HashWorkerReply, HashWorkerRequest } from './hash-worker.js';

/**
 * A prototype, for the benchmark only, of an ingest that hashes on a worker thread (ADR 0005): the same data path
 * as FsBlobStore.ingest (1 MiB coalesced buffers, one write in flight, fsync, rename, directory fsync), but the
 * buffers are SharedArrayBuffers that a worker hashes while they are written, so the main thread only copies.
 * `main` runs the very same code with both digests on the main thread, to show that the prototype itself costs
 * nothing beside FsBlobStore; `none` hashes nothing (a control: what the rest of the path costs).
 */
export type HashingMode = 'none' | 'main' | 'worker-sha256' | 'worker-both';

const SLOT = 1 << 20;
/** Buffers per ingest: one filling, one being written, one the worker may still be hashing. */
const SLOTS = 3;

interface Digests {
  readonly blake3?: Uint8Array;
  readonly sha256: Uint8Array;
}

/** Worker threads shared by every ingest; each ingest is pinned to one of them, round robin. */
export class HashWorkerPool {
  private readonly workers: Worker[] = [];
  private readonly acks = new Map<number, (() => void)[]>();
  private readonly digests = new Map<number, (digests: Digests) => void>();
  private turn = 0;
  private lastId = 0;

  constructor(size: number) {
    for (let i = 0; i < size; i++) {
      const worker = new Worker(new URL('./hash-worker.js', import.meta.url));
      worker.on('message', (reply: HashWorkerReply) => {
        switch (reply.type) {
          case 'updated':
            this.acks.get(reply.id)?.shift()?.();
            return;
          case 'digest':
            this.digests.get(reply.id)?.(reply);
            this.digests.delete(reply.id);
            this.acks.delete(reply.id);
            return;
        }
      });
      this.workers.push(worker);
    }
  }

  session(blake3: boolean): HashSession {
    const worker = this.workers[this.turn++ % this.workers.length];
    if (!worker) throw new Error('empty pool');
    const id = ++this.lastId;
    const post = (request: HashWorkerRequest) => {
      worker.postMessage(request);
    };
    this.acks.set(id, []);
    post({ type: 'start', id, blake3 });
    return {
      update: (buffer, length) =>
        new Promise<void>((resolve) => {
          this.acks.get(id)?.push(resolve);
          post({ type: 'update', id, buffer, length });
        }),
      digest: () =>
        new Promise<Digests>((resolve) => {
          this.digests.set(id, resolve);
          post({ type: 'digest', id });
        }),
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }
}

interface HashSession {
  update(buffer: SharedArrayBuffer, length: number): Promise<void>;
  digest(): Promise<Digests>;
}

interface Slot {
  readonly shared: SharedArrayBuffer;
  readonly bytes: Buffer;
}

/** Ingests `source` into `<root>/<aa>/<bb>/<blake3 hex>` like FsBlobStore, hashing where `mode` says. */
export async function ingestWithHashing(
  root: string,
  source: AsyncIterable<Buffer> | Iterable<Buffer>,
  mode: HashingMode,
  pool: HashWorkerPool,
): Promise<{ size: number; blake3: Buffer; sha256: Buffer }> {
  await mkdir(join(root, 'tmp'), { recursive: true });
  const tempPath = join(root, 'tmp', `${randomUUID()}.tmp`);
  const handle = await open(tempPath, 'wx');
  const blake3 = mode === 'main' || mode === 'worker-sha256' ? createBlake3() : undefined;
  const sha256 = mode === 'main' ? createSha256() : undefined;
  const session =
    mode === 'worker-sha256' || mode === 'worker-both' ? pool.session(mode === 'worker-both') : undefined;
  const free: Slot[] = Array.from({ length: SLOTS }, () => {
    const shared = new SharedArrayBuffer(SLOT);
    return { shared, bytes: Buffer.from(shared) };
  });
  const busy: Promise<void>[] = [];
  let writes: Promise<void> = Promise.resolve();
  let filling = free.pop();
  let filled = 0;
  let size = 0;

  const dispatch = async (): Promise<void> => {
    const slot = filling;
    if (!slot || filled === 0) return;
    const length = filled;
    writes = writes.then(() => writeAll(handle, slot.bytes.subarray(0, length)));
    const done = Promise.all([writes, session?.update(slot.shared, length)]).then(() => {
      free.push(slot);
    });
    done.catch(() => undefined);
    busy.push(done);
    filled = 0;
    while (free.length === 0) await busy.shift();
    filling = free.pop();
  };

  for await (const chunk of source) {
    size += chunk.length;
    blake3?.update(chunk);
    sha256?.update(chunk);
    let offset = 0;
    while (offset < chunk.length) {
      if (!filling) throw new Error('no free buffer');
      const count = Math.min(chunk.length - offset, SLOT - filled);
      filling.bytes.set(chunk.subarray(offset, offset + count), filled);
      filled += count;
      offset += count;
      if (filled === SLOT) await dispatch();
    }
  }
  await dispatch();
  await Promise.all(busy);
  const fromWorker = await session?.digest();
  const blake3Digest = blake3?.digest() ?? Buffer.from(fromWorker?.blake3 ?? randomBytes(32));
  const sha256Digest = sha256?.digest() ?? Buffer.from(fromWorker?.sha256 ?? randomBytes(32));
  await handle.sync();
  await handle.close();
  const key = blake3Digest.toString('hex');
  const finalPath = join(root, key.slice(0, 2), key.slice(2, 4), key);
  await mkdir(dirname(finalPath), { recursive: true });
  await rename(tempPath, finalPath);
  const directory = await open(dirname(finalPath), 'r');
  await directory.sync();
  await directory.close();
  return { size, blake3: blake3Digest, sha256: sha256Digest };
}

async function writeAll(handle: FileHandle, bytes: Buffer): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
    offset += bytesWritten;
  }
}
