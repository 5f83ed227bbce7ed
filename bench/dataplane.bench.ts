import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { createBlake3, createSha256 } from '@artifactstore/codec';
import { BlobFileWriter, FsBlobStore } from '@artifactstore/dataplane';
import { median } from './stats.js';
import { type HashingMode, type HashWorkerPool, ingestWithHashing } from './worker-hashing.js';

const MiB = 1 << 20;
/** Raw and verified reads per run, alternated. */
const READ_PAIRS = 3;

/** `total` bytes in `chunkSize` chunks cut from one random block, the first byte varied per chunk. */
export function* bytes(total: number, chunkSize: number, block: Buffer, salt: number): Generator<Buffer> {
  let index = 0;
  for (let offset = 0; offset < total; offset += chunkSize, index++) {
    const chunk = Buffer.from(block.subarray(0, Math.min(chunkSize, total - offset)));
    chunk[0] = (index + salt) & 0xff;
    chunk[1] = (index >> 8) & 0xff;
    yield chunk;
  }
}

async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _chunk of stream) {
    // consume
  }
}

/** Writes `chunks` as FsBlobStore does (BlobFileWriter: 2 MiB O_DIRECT blocks from the pool), then fsyncs. */
async function writeDirect(path: string, chunks: Iterable<Buffer>): Promise<void> {
  const writer = await BlobFileWriter.create(path, true);
  try {
    for (const chunk of chunks) await writer.push(chunk);
    await writer.finish();
    await writer.sync();
  } finally {
    await writer.close();
  }
}

export interface DataplaneResult {
  readonly sizeMiB: number;
  readonly chunkKiB: number;
  readonly ingestMiBps: number;
  /** Write + fsync through the page cache. */
  readonly rawWriteMiBps: number;
  /** The same with O_DIRECT, as the store writes (BlobFileWriter without the hashing). */
  readonly rawDirectWriteMiBps: number;
  readonly hashOnlyMiBps: number;
  readonly verifiedReadMiBps: number;
  /** A plain read of the raw file through the page cache, 2 MiB at a time (the verified read uses O_DIRECT). */
  readonly rawReadMiBps: number;
  readonly ingestRssGrowthMiB: number;
  readonly concurrentIngestMiBps: number;
}

/**
 * One run on a fresh folder: ingest of `sizeMiB` into FsBlobStore beside a raw durable write of the same bytes
 * (write + fsync, through the page cache and with O_DIRECT) and the dual-hash pass alone; a verified full read
 * beside a plain read of the raw file through the page cache (alternated three times, medians); peak RSS growth
 * during the ingest; and 4 concurrent ingests of sizeMiB/4 each.
 */
export async function benchDataplane(
  sizeMiB: number,
  chunkKiB: number,
  salt: number,
): Promise<DataplaneResult> {
  const root = await mkdtemp(join(tmpdir(), 'artifactstore-bench-blobs-'));
  const block = randomBytes(chunkKiB * 1024);
  const total = sizeMiB * MiB;
  const rate = (seconds: number, size = total): number => size / MiB / seconds;
  try {
    const store = new FsBlobStore(join(root, 'blobs'));
    await store.init();

    let start = performance.now();
    const blake3 = createBlake3();
    const sha256 = createSha256();
    for (const chunk of bytes(total, chunkKiB * 1024, block, salt)) {
      blake3.update(chunk);
      sha256.update(chunk);
    }
    blake3.digest();
    sha256.digest();
    const hashOnlyMiBps = rate((performance.now() - start) / 1000);

    const rawPath = join(root, 'raw.bin');
    start = performance.now();
    const raw = await open(rawPath, 'w');
    for (const chunk of bytes(total, chunkKiB * 1024, block, salt + 1)) await raw.write(chunk);
    await raw.sync();
    await raw.close();
    const rawWriteMiBps = rate((performance.now() - start) / 1000);

    start = performance.now();
    await writeDirect(join(root, 'raw-direct.bin'), bytes(total, chunkKiB * 1024, block, salt + 3));
    const rawDirectWriteMiBps = rate((performance.now() - start) / 1000);
    await rm(join(root, 'raw-direct.bin'));

    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }, 20);
    start = performance.now();
    const receipt = await store.ingest(bytes(total, chunkKiB * 1024, block, salt + 2));
    const ingestMiBps = rate((performance.now() - start) / 1000);
    clearInterval(sampler);
    const ingestRssGrowthMiB = (rssPeak - rssBefore) / MiB;

    // Reads alternate, raw then verified, READ_PAIRS times, so that the machine's drift falls on all alike.
    const rawReads: number[] = [];
    const verifiedReads: number[] = [];
    for (let pair = 0; pair < READ_PAIRS; pair++) {
      start = performance.now();
      await drain(createReadStream(rawPath, { highWaterMark: 2 * MiB }));
      rawReads.push(rate((performance.now() - start) / 1000));
      start = performance.now();
      await drain(await store.open(receipt.key));
      verifiedReads.push(rate((performance.now() - start) / 1000));
    }
    const rawReadMiBps = median(rawReads);
    const verifiedReadMiBps = median(verifiedReads);

    start = performance.now();
    await Promise.all(
      [3, 4, 5, 6].map((n) => store.ingest(bytes(total / 4, chunkKiB * 1024, block, salt + n * 17))),
    );
    const concurrentIngestMiBps = rate((performance.now() - start) / 1000);

    return {
      sizeMiB,
      chunkKiB,
      ingestMiBps,
      rawWriteMiBps,
      rawDirectWriteMiBps,
      hashOnlyMiBps,
      verifiedReadMiBps,
      rawReadMiBps,
      ingestRssGrowthMiB,
      concurrentIngestMiBps,
    };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

export interface ConcurrentIngestResult {
  readonly mibps: number;
  /** Average CPU cores busy (user + system, every thread of the process) during the run. */
  readonly cores: number;
  /** Share of the run the main thread's event loop was busy (performance.eventLoopUtilization). */
  readonly mainThreadBusy: number;
  readonly loopDelayP50Ms: number;
  readonly loopDelayP99Ms: number;
  readonly loopDelayMaxMs: number;
}

/** Who hashes in the concurrent-ingest case: FsBlobStore itself, or the prototype in worker-hashing.ts. */
export type IngestHashing = 'fs-blob-store' | HashingMode;

/**
 * `concurrency` ingests of `sizeMiB` each at once (64 KiB source chunks), hashed as `hashing` says, with the
 * process's CPU time, the main thread's busy share and the event-loop delay (sampled every 1 ms) over the run.
 */
export async function benchConcurrentIngest(
  concurrency: number,
  sizeMiB: number,
  hashing: IngestHashing,
  pool: HashWorkerPool,
  salt: number,
): Promise<ConcurrentIngestResult> {
  const root = await mkdtemp(join(tmpdir(), 'artifactstore-bench-threads-'));
  const chunkSize = 64 * 1024;
  const block = randomBytes(chunkSize);
  try {
    const store = new FsBlobStore(join(root, 'blobs'));
    await store.init();
    const ingest = (n: number): Promise<unknown> => {
      const source = bytes(sizeMiB * MiB, chunkSize, block, salt + n * 17);
      return hashing === 'fs-blob-store'
        ? store.ingest(source)
        : ingestWithHashing(join(root, 'prototype'), source, hashing, pool);
    };
    const delay = monitorEventLoopDelay({ resolution: 1 });
    const cpuBefore = process.cpuUsage();
    const eluBefore = performance.eventLoopUtilization();
    delay.enable();
    const start = performance.now();
    await Promise.all(Array.from({ length: concurrency }, (_, n) => ingest(n)));
    const seconds = (performance.now() - start) / 1000;
    delay.disable();
    const cpu = process.cpuUsage(cpuBefore);
    const elu = performance.eventLoopUtilization(eluBefore);
    return {
      mibps: (concurrency * sizeMiB) / seconds,
      cores: (cpu.user + cpu.system) / 1e6 / seconds,
      mainThreadBusy: elu.utilization,
      loopDelayP50Ms: delay.percentile(50) / 1e6,
      loopDelayP99Ms: delay.percentile(99) / 1e6,
      loopDelayMaxMs: delay.max / 1e6,
    };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
