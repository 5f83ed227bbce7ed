import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createServerApp } from '@artifactstore/server';
import { bytes } from './dataplane.bench.js';
import { median } from './stats.js';
import type { ScratchDatabase } from '../test/support/scratch-database.js';

const run = promisify(execFile);
const MiB = 1 << 20;
const CLIENT = join(import.meta.dirname, 'transfer-client.js');

type Mode = 'put' | 'tus' | 'tus-js-client';

export interface TusBenchResult {
  readonly sizeMiB: number;
  readonly chunkMiB: number;
  /** Median MiB/s of one streamed PUT of the file. */
  readonly putMiBps: number;
  /** Median MiB/s of the same file by tus in `chunkMiB` PATCHes, creation included, with the PUT's client code. */
  readonly tusMiBps: number;
  /** The same by tus-js-client (its own client-side costs included). */
  readonly tusJsClientMiBps: number;
  readonly runs: number;
}

/**
 * A `sizeMiB` file uploaded through the real server (fs backend) by one PUT, by tus in `chunkMiB` chunks with the
 * same client code, and by tus-js-client, taking turns `runs` times each (the order reversed on odd runs), medians
 * reported. The client is a Node process of its own (transfer-client.ts), streaming from a file; each upload goes to
 * its own path of one package, with fresh bytes per upload so that nothing deduplicates.
 */
export async function benchTus(
  scratch: ScratchDatabase,
  sizeMiB: number,
  chunkMiB: number,
  runs: number,
): Promise<TusBenchResult> {
  const app = await createServerApp(scratch.config);
  await app.listen(0, '127.0.0.1');
  try {
    const base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    const created = await fetch(`${base}/v1/packages`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        name: 'bench',
        producer: 'bench',
        subject: 'tus',
        retention_class: 'ephemeral',
      }),
    });
    const pkg = (await created.json()) as { id: string };
    const packageUrl = `${base}/v1/packages/${pkg.id}`;
    const speeds: Record<Mode, number[]> = { put: [], tus: [], 'tus-js-client': [] };
    for (let round = 0; round < runs; round++) {
      const order: Mode[] =
        round % 2 === 0 ? ['put', 'tus', 'tus-js-client'] : ['tus-js-client', 'tus', 'put'];
      for (const mode of order) {
        const source = join(scratch.config.dataDir, `source-${round}-${mode}.bin`);
        const handle = await open(source, 'w');
        for (const chunk of bytes(sizeMiB * MiB, MiB, randomBytes(4 * MiB), round * 2 + 1))
          await handle.write(chunk);
        await handle.close();
        const { stdout } = await run(process.execPath, [
          CLIENT,
          mode,
          packageUrl,
          source,
          `${mode}-${round}.bin`,
          String(chunkMiB),
        ]);
        await rm(source);
        const seconds = (JSON.parse(stdout) as { ms: number }).ms / 1000;
        speeds[mode].push(sizeMiB / seconds);
      }
    }
    return {
      sizeMiB,
      chunkMiB,
      putMiBps: median(speeds.put),
      tusMiBps: median(speeds.tus),
      tusJsClientMiBps: median(speeds['tus-js-client']),
      runs,
    };
  } finally {
    await app.close();
  }
}

export function tusTable(result: TusBenchResult): string {
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
  return [
    `## tus (${fmt(result.sizeMiB)} MiB over loopback, fs backend, MiB/s, median of ${result.runs})`,
    '',
    '| upload | MiB/s | vs the PUT |',
    '| --- | --- | --- |',
    `| one PUT /v1/packages/{id}/files/… | ${fmt(result.putMiBps)} | 100% |`,
    `| tus, ${result.chunkMiB} MiB PATCHes, same client code | ${fmt(result.tusMiBps)} | ${Math.round((result.tusMiBps / result.putMiBps) * 100)}% |`,
    `| tus-js-client 4.3.1, ${result.chunkMiB} MiB PATCHes | ${fmt(result.tusJsClientMiBps)} | ${Math.round((result.tusJsClientMiBps / result.putMiBps) * 100)}% |`,
    '',
  ].join('\n');
}
