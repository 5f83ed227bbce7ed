// Ingests <MiB> mebibytes into an FsBlobStore at <root> and prints {size, rssGrowthMiB}: the peak RSS of this
// process above its RSS just before the ingest. Run by fs-blob-store.int-spec.ts on the built code (dist/).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
// The memory test measures the built code, as it runs in production, so it imports dist/ on purpose.
// eslint-disable-next-line no-restricted-imports
import { FsBlobStore } from '../../dist/libs/dataplane/src/index.js';

const [root, mebibytes] = process.argv.slice(2);
const store = new FsBlobStore(root);
await store.init();
const block = randomBytes(1 << 20);

// The source recycles a few head buffers instead of allocating one per MiB: its own garbage (64 MiB over 1 GiB)
// is not the store's memory, and under load the garbage collector lagged enough to push it past the bound.
const heads = Array.from({ length: 4 }, () => Buffer.alloc(64 * 1024));

async function* source(count) {
  for (let i = 0; i < count; i++) {
    const head = heads[i % heads.length];
    block.copy(head, 0, 0, head.length);
    head[0] = i & 0xff; // vary the content a little, as real data would
    yield head;
    yield block.subarray(64 * 1024);
  }
}

/**
 * This process's peak RSS in bytes: VmHWM, the high-water mark of its own address space. Not getrusage's maxRSS,
 * which Linux carries across exec: a child forked from a jest worker of 150 MiB reported the worker's RSS as its
 * own peak, which failed this test twice on loaded CI runs (105.8 and 107 MiB) that never grew the store's memory.
 */
function peakRss() {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  if (!match) throw new Error('no VmHWM in /proc/self/status');
  return Number(match[1]) * 1024;
}

const before = process.memoryUsage().rss;
const { size } = await store.ingest(source(Number(mebibytes)));
const peak = peakRss();
process.stdout.write(JSON.stringify({ size, rssGrowthMiB: Math.max(0, peak - before) / 2 ** 20 }));
