import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { blake3, sha256, toHex, uuidv7 } from '@artifactstore/codec';
import { storageLocationId } from '@artifactstore/registry';
import { fileIngestedEvent, packageCreatedEvent } from '@artifactstore/views';
import { openCore, type CoreContext } from '../test/support/core-context.js';
import type { ScratchDatabase } from '../test/support/scratch-database.js';
import { median } from './stats.js';

export interface PackageFlowResult {
  /** Packages per second through create → ingest `files` small files → finalize. */
  readonly packagesPerSecond: number;
  /** The same with `concurrency` packages in flight at once. */
  readonly concurrentPackagesPerSecond: number;
  /** One durable FsBlobStore.ingest of `fileBytes` random bytes alone, in ms (median of 50). */
  readonly blobIngestMs: number;
}

async function onePackage(core: CoreContext, files: number, fileBytes: number, index: number): Promise<void> {
  const pkg = await core.registry.createPackage(
    { name: `bench-${index}`, producer: 'bench', subject: `run-${index}`, retention_class: 'standard' },
    'bench',
  );
  for (let i = 0; i < files; i++) {
    await core.registry.ingestFile(pkg.id, `dir/file-${i}.bin`, undefined, [randomBytes(fileBytes)], 'bench');
  }
  await core.registry.finalizePackage(pkg.id, 'bench');
}

/** The whole registry path: events, views and durable blob writes (temp file, fsync, rename, fsync dir). */
export async function benchPackageFlow(
  scratch: ScratchDatabase,
  packages: number,
  files: number,
  fileBytes: number,
  concurrency: number,
): Promise<PackageFlowResult> {
  const core = await openCore(scratch.config);
  try {
    await onePackage(core, files, fileBytes, -1); // warm-up: prepared statements, directories
    const blobTimes: number[] = [];
    for (let i = 0; i < 50; i++) {
      const bytes = randomBytes(fileBytes);
      const t = performance.now();
      await core.blobStore.ingest([bytes]);
      blobTimes.push(performance.now() - t);
    }
    let start = performance.now();
    for (let i = 0; i < packages; i++) await onePackage(core, files, fileBytes, i);
    const sequential = packages / ((performance.now() - start) / 1000);
    start = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < packages) await onePackage(core, files, fileBytes, packages + next++);
      }),
    );
    const concurrent = packages / ((performance.now() - start) / 1000);
    return {
      packagesPerSecond: sequential,
      concurrentPackagesPerSecond: concurrent,
      blobIngestMs: median(blobTimes),
    };
  } finally {
    await core.app.close();
  }
}

/**
 * Packages/s through the registry (create → `files` × 4 KiB → finalize) with each of `writers` packages in flight
 * at once, in one store: how the write rate scales with more writers (issue 24: on PostgreSQL they queue on the
 * append lock, so the figure is the inverse of how long a transaction holds it).
 */
export async function benchWriters(
  scratch: ScratchDatabase,
  packages: number,
  files: number,
  writers: readonly number[],
): Promise<number[]> {
  const core = await openCore(scratch.config);
  try {
    for (let i = 0; i < 10; i++) await onePackage(core, files, 4096, -1 - i); // warm-up
    const rates: number[] = [];
    let index = 0;
    for (const inFlight of writers) {
      const start = performance.now();
      let started = 0;
      await Promise.all(
        Array.from({ length: inFlight }, async () => {
          while (started < packages) {
            started++;
            await onePackage(core, files, 4096, index++);
          }
        }),
      );
      rates.push(packages / ((performance.now() - start) / 1000));
    }
    return rates;
  } finally {
    await core.app.close();
  }
}

export interface FinalizeLatencyResult {
  readonly files: number;
  /** Median over the runs of finalizePackage's wall time. */
  readonly finalizeMs: number;
  readonly manifestBytes: number;
}

/**
 * finalizePackage on a package of `files` files, recorded straight through the projector (no bytes stored: the
 * finalize reads the views, builds and encodes the manifest and appends it). A fresh package per run.
 */
export async function benchFinalizeLatency(
  scratch: ScratchDatabase,
  files: number,
  runs: number,
): Promise<FinalizeLatencyResult> {
  const core = await openCore(scratch.config);
  try {
    const times: number[] = [];
    let manifestBytes = 0;
    for (let run = 0; run < runs; run++) {
      const packageId = uuidv7();
      await core.database.write(async (tx) => {
        await core.projector.appendAndApply(
          tx,
          packageCreatedEvent('bench', {
            package_id: packageId,
            name: 'big',
            producer: 'bench',
            subject: `run-${run}`,
            retention_class: 'standard',
            ttl_days: 90,
            metadata: { files },
          }),
        );
        for (let i = 0; i < files; i++) {
          const content = `content ${run} ${i}`;
          const fileId = uuidv7();
          const key = toHex(blake3(content));
          await core.projector.appendAndApply(
            tx,
            fileIngestedEvent('bench', {
              file_id: fileId,
              package_id: packageId,
              relative_path: `dir-${i % 100}/file-${i}.bin`,
              media_type: 'application/octet-stream',
              size: content.length,
              blake3: blake3(content),
              sha256: sha256(content),
              storage: { location_id: storageLocationId(fileId, 'fs', key), backend: 'fs', key },
            }),
          );
        }
      });
      const start = performance.now();
      const result = await core.registry.finalizePackage(packageId, 'bench');
      times.push(performance.now() - start);
      manifestBytes = (await core.registry.getManifestBytes(result.content_address)).bytes.length;
    }
    return { files, finalizeMs: median(times), manifestBytes };
  } finally {
    await core.app.close();
  }
}
