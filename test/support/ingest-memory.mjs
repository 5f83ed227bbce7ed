// Ingests <MiB> mebibytes into an FsBlobStore at <root> and prints {size, rssGrowthMiB}: the peak RSS of this
// process above its RSS just before the ingest. Run by fs-blob-store.int-spec.ts on the built code (dist/).
import { randomBytes } from 'node:crypto';
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

const before = process.memoryUsage().rss;
const { size } = await store.ingest(source(Number(mebibytes)));
const peak = process.resourceUsage().maxRSS * 1024;
process.stdout.write(JSON.stringify({ size, rssGrowthMiB: Math.max(0, peak - before) / 2 ** 20 }));
