import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createBlake3, createSha256 } from '@artifactstore/codec';
import { FsBlobStore } from '@artifactstore/dataplane';

const MiB = 1 << 20;

/** `total` bytes in `chunkSize` chunks cut from one random block, the first byte varied per chunk. */
function* bytes(total: number, chunkSize: number, block: Buffer, salt: number): Generator<Buffer> {
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

export interface DataplaneResult {
  readonly sizeMiB: number;
  readonly chunkKiB: number;
  readonly ingestMiBps: number;
  readonly rawWriteMiBps: number;
  readonly hashOnlyMiBps: number;
  readonly verifiedReadMiBps: number;
  readonly rawReadMiBps: number;
  readonly ingestRssGrowthMiB: number;
  readonly concurrentIngestMiBps: number;
}

/**
 * One run on a fresh folder: ingest of `sizeMiB` into FsBlobStore beside a raw durable write of the same bytes
 * (write + fsync) and the dual-hash pass alone; a verified full read beside a plain read of the same file (both
 * from the page cache); peak RSS growth during the ingest; and 4 concurrent ingests of sizeMiB/4 each.
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

    start = performance.now();
    await drain(createReadStream(rawPath, { highWaterMark: MiB }));
    const rawReadMiBps = rate((performance.now() - start) / 1000);
    start = performance.now();
    await drain(await store.open(receipt.key));
    const verifiedReadMiBps = rate((performance.now() - start) / 1000);

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
