import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CLI_MAIN, measure, runChild, writeTree, type SideRun } from './cli.bench.js';
import { startArtifactstore, type ArtifactstoreServer } from './distribution.bench.js';
import { createScratchSqlite, type ScratchDatabase } from '../test/support/scratch-database.js';

const MiB = 1 << 20;
const PACKAGE_FIELDS = ['--name', 'bundle', '--producer', 'bench', '--retention', 'ephemeral'];

/** One run: the same package out of one store and into a fresh one, by bundle and by pull and push. */
export interface BundleRun {
  readonly pull: SideRun;
  readonly export: SideRun;
  readonly push: SideRun;
  readonly import: SideRun;
}

/** A server on a scratch SQLite store of its own. */
interface Store {
  readonly server: ArtifactstoreServer;
  readonly scratch: ScratchDatabase;
}

async function openStore(): Promise<Store> {
  const scratch = await createScratchSqlite();
  return { server: await startArtifactstore(scratch), scratch };
}

async function closeStore(store: Store): Promise<void> {
  await store.server.close();
  await store.scratch.dispose();
}

const cli = (store: Store, ...args: string[]): Promise<string> =>
  runChild(process.execPath, [CLI_MAIN, '--url', store.server.base, ...args]);

/**
 * Issue 23's bundle aim: `export` of a package of one `mib` MiB file against `pull` of it from the same store, and
 * `import` of the bundle into a fresh store against `push` of the pulled folder into another fresh one; the side
 * that goes first alternates run by run. Every run has fresh bytes and fresh target stores.
 */
export async function benchBundles(runs: number, mib: number): Promise<BundleRun[]> {
  const work = await mkdtemp(join(tmpdir(), 'artifactstore-bundle-bench-'));
  const source = await openStore();
  const results: BundleRun[] = [];
  try {
    for (let run = 0; run < runs; run++) {
      const tree = join(work, `tree-${run}`);
      await writeTree(tree, { label: 'one file', files: [{ relativePath: 'big.bin', size: mib * MiB }] });
      const address = (await cli(source, 'push', tree, ...PACKAGE_FIELDS, '--subject', `run-${run}`)).trim();
      const pulled = join(work, `pulled-${run}`);
      const bundle = join(work, `bundle-${run}.tar`);
      await promisify(execFile)('sync');
      const out = {
        pull: () => measure(source.server, () => cli(source, 'pull', address, pulled)),
        export: () => measure(source.server, () => cli(source, 'export', address, '--out', bundle)),
      };
      const exportFirst = run % 2 === 0;
      const firstOut = await (exportFirst ? out.export : out.pull)();
      const secondOut = await (exportFirst ? out.pull : out.export)();
      const [exported, pulledRun] = exportFirst ? [firstOut, secondOut] : [secondOut, firstOut];
      await promisify(execFile)('sync');
      const pushTarget = await openStore();
      const importTarget = await openStore();
      try {
        const into = {
          push: () =>
            measure(pushTarget.server, () =>
              cli(pushTarget, 'push', pulled, ...PACKAGE_FIELDS, '--subject', `run-${run}`),
            ),
          import: () => measure(importTarget.server, () => cli(importTarget, 'import', bundle)),
        };
        const firstIn = await (exportFirst ? into.import : into.push)();
        const secondIn = await (exportFirst ? into.push : into.import)();
        const [imported, pushed] = exportFirst ? [firstIn, secondIn] : [secondIn, firstIn];
        if (!imported.value.includes(address)) throw new Error(`import said: ${imported.value}`);
        // A push makes a new package (a new id, so another address); the import keeps the package and its address.
        if (!/^blake3:[0-9a-f]{64}$/.test(pushed.value.trim())) throw new Error(`push said: ${pushed.value}`);
        results.push({ pull: pulledRun.run, export: exported.run, push: pushed.run, import: imported.run });
      } finally {
        await closeStore(pushTarget);
        await closeStore(importTarget);
      }
      for (const path of [tree, pulled, bundle]) await rm(path, { recursive: true, force: true });
    }
    return results;
  } finally {
    await closeStore(source);
    await rm(work, { recursive: true, force: true });
  }
}
