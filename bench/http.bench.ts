import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { BlobStore } from '@artifactstore/dataplane';
import { createServerApp } from '@artifactstore/server';
import { bytes } from './dataplane.bench.js';
import type { ScratchDatabase } from '../test/support/scratch-database.js';

const run = promisify(execFile);
const MiB = 1 << 20;
const CHUNK = MiB;

export interface HttpTransferResult {
  /** PUT of the whole file through the server, until its 201. */
  readonly putMiBps: number;
  /** GET of the whole file through the server (BLAKE3-verified as it streams), until the last byte. */
  readonly getMiBps: number;
  /** FsBlobStore.ingest of as many (different) bytes, in the same process. */
  readonly ingestMiBps: number;
  /** FsBlobStore.open full verified read of that blob. */
  readonly readMiBps: number;
}

/**
 * One PUT and one full GET of `sizeMiB` through the real server over loopback (curl as the client, in its own
 * process), beside the dataplane alone on the same bytes' size in the same run. Every transfer carries fresh bytes (a random salt), so nothing deduplicates.
 */
export async function benchHttpTransfer(
  scratch: ScratchDatabase,
  sizeMiB: number,
): Promise<HttpTransferResult> {
  const size = sizeMiB * MiB;
  const app = await createServerApp(scratch.config);
  await app.listen(0, '127.0.0.1');
  try {
    const url = await app.getUrl();
    const base = url.replace('[::1]', '127.0.0.1');
    const pkg = (await (
      await fetch(`${base}/v1/packages`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          name: 'bench',
          producer: 'bench',
          subject: 'http',
          retention_class: 'ephemeral',
        }),
      })
    ).json()) as { id: string };
    // The upload's source: a file curl streams from (page cache after it is written).
    const source = join(scratch.config.dataDir, 'upload.bin');
    const handle = await open(source, 'w');
    for (const chunk of bytes(size, CHUNK, randomBytes(4 * MiB), 3)) await handle.write(chunk);
    await handle.close();

    let start = performance.now();
    const uploaded = await curl([
      '-T',
      source,
      '-H',
      'Content-Type: application/octet-stream',
      `${base}/v1/packages/${pkg.id}/files/big.bin`,
    ]);
    const putSeconds = (performance.now() - start) / 1000;
    const fileId = (JSON.parse(uploaded) as { id: string }).id;
    await rm(source);

    start = performance.now();
    const received = await curl(['-o', '/dev/null', '-w', '%{size_download}', `${base}/v1/files/${fileId}`]);
    const getSeconds = (performance.now() - start) / 1000;
    if (Number(received) !== size) throw new Error(`GET returned ${received} of ${size} bytes`);

    const store = app.get(BlobStore);
    start = performance.now();
    const receipt = await store.ingest(bytes(size, CHUNK, randomBytes(4 * MiB), 7));
    const ingestSeconds = (performance.now() - start) / 1000;
    start = performance.now();
    let read = 0;
    for await (const chunk of await store.open(receipt.key)) read += (chunk as Buffer).length;
    const readSeconds = (performance.now() - start) / 1000;
    if (read !== size) throw new Error(`read ${read} of ${size} bytes`);

    return {
      putMiBps: sizeMiB / putSeconds,
      getMiBps: sizeMiB / getSeconds,
      ingestMiBps: sizeMiB / ingestSeconds,
      readMiBps: sizeMiB / readSeconds,
    };
  } finally {
    await app.close();
  }
}

/** curl in its own process, so the client does not share the server's event loop and cores' time slices. */
export async function curl(args: string[]): Promise<string> {
  const { stdout } = await run('curl', ['--silent', '--show-error', '--fail-with-body', ...args], {
    maxBuffer: 1 << 20,
  });
  return stdout;
}
