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

async function* source(count) {
  for (let i = 0; i < count; i++) {
    block[0] = i & 0xff; // vary the content a little, as real data would
    yield Buffer.from(block.subarray(0, 64 * 1024));
    yield block.subarray(64 * 1024);
  }
}

const before = process.memoryUsage().rss;
const { size } = await store.ingest(source(Number(mebibytes)));
const peak = process.resourceUsage().maxRSS * 1024;
process.stdout.write(JSON.stringify({ size, rssGrowthMiB: Math.max(0, peak - before) / 2 ** 20 }));
