import { spawn } from 'node:child_process';
import { mkdtemp, open, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@artifactstore/config';
import { createBlobStore, FsBlobStore, StorageError } from '@artifactstore/dataplane';
import { describeBlobStore } from '../support/describe-blob-store.js';

async function makeFsStore(directIo = true) {
  const root = await mkdtemp(join(tmpdir(), 'artifactstore-blobs-'));
  const store = new FsBlobStore(root, { directIo });
  await store.init();
  return {
    store,
    root,
    corrupt: async (key: string) => {
      const handle = await open(store.pathOf(key), 'r+');
      try {
        const byte = Buffer.alloc(1);
        await handle.read(byte, 0, 1, 1000);
        byte[0] = (byte[0] ?? 0) ^ 0xff;
        await handle.write(byte, 0, 1, 1000);
      } finally {
        await handle.close();
      }
    },
    leftovers: () => readdir(join(root, 'tmp')),
    dispose: () => rm(root, { recursive: true, force: true }),
  };
}

describeBlobStore('FsBlobStore', () => makeFsStore());
describeBlobStore('FsBlobStore through the page cache (directIo: false)', () => makeFsStore(false));

describe('FsBlobStore on disk', () => {
  it('stores a blob at <root>/<aa>/<bb>/<blake3 hex>', async () => {
    const { store, root, dispose } = await makeFsStore();
    try {
      const { key } = await store.ingest([Buffer.from('hello')]);
      expect(store.pathOf(key)).toBe(join(root, key.slice(0, 2), key.slice(2, 4), key));
      expect(await readdir(join(root, key.slice(0, 2), key.slice(2, 4)))).toEqual([key]);
    } finally {
      await dispose();
    }
  });

  it('reports a StorageError from checkWritable when its temp folder cannot take a file', async () => {
    const { store, root, dispose } = await makeFsStore();
    try {
      await rm(join(root, 'tmp'), { recursive: true });
      await writeFile(join(root, 'tmp'), 'not a folder');
      await expect(store.checkWritable()).rejects.toBeInstanceOf(StorageError);
    } finally {
      await dispose();
    }
  });

  it.each([
    ['true', true],
    ['false', false],
  ])('writes with O_DIRECT as ARTIFACTSTORE_FS_DIRECT_IO=%s says (Linux, ext4)', async (value, direct) => {
    const dataDir = await mkdtemp(join(tmpdir(), 'artifactstore-direct-'));
    try {
      const store = await createBlobStore(
        loadConfig({ ARTIFACTSTORE_DATA_DIR: dataDir, ARTIFACTSTORE_FS_DIRECT_IO: value }),
      );
      expect(store).toBeInstanceOf(FsBlobStore);
      const receipt = await store.ingest([Buffer.alloc(5000, 1)]);
      expect((store as FsBlobStore).writesDirect).toBe(direct);
      expect(receipt.size).toBe(5000);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('sweeps temp files a crash left behind, but not those of a live ingest', async () => {
    const { store, root, dispose } = await makeFsStore();
    try {
      const stale = join(root, 'tmp', 'crashed.tmp');
      const live = join(root, 'tmp', 'live.tmp');
      await writeFile(stale, 'partial');
      await writeFile(live, 'partial');
      const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
      await utimes(stale, twoHoursAgo, twoHoursAgo);
      await new FsBlobStore(root).init();
      expect(await readdir(join(root, 'tmp'))).toEqual(['live.tmp']);
      expect(await store.sweepTempFiles(Date.now() + 2 * 3600_000)).toBe(1);
    } finally {
      await dispose();
    }
  });

  it('turns a full disk into a StorageError and keeps nothing (a 2 MiB tmpfs; needs root, as CI has)', async () => {
    const mountPoint = await mkdtemp(join(tmpdir(), 'artifactstore-full-'));
    await run('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mountPoint]);
    try {
      const store = new FsBlobStore(join(mountPoint, 'blobs'));
      await store.init();
      const chunks = Array.from({ length: 64 }, (_, i) => Buffer.alloc(64 * 1024, i));
      const error = await store.ingest(chunks).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(StorageError);
      expect((error as StorageError).code).toBe('storage_error');
      expect(await readdir(join(mountPoint, 'blobs', 'tmp'))).toEqual([]);
      const small = await store.ingest([Buffer.from('still works')]);
      expect(await store.exists(small.key)).toBe(true);
    } finally {
      await run('umount', [mountPoint]);
      await rm(mountPoint, { recursive: true, force: true });
    }
  });

  it('keeps memory bounded while ingesting 1 GiB (peak RSS growth, in a child process)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'artifactstore-rss-'));
    try {
      const output = await new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, ['test/support/ingest-memory.mjs', root, String(1024)], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let text = '';
        child.stdout.on('data', (chunk: Buffer) => {
          text += chunk.toString();
        });
        child.on('exit', (code) => {
          if (code === 0) resolve(text);
          else reject(new Error(`child exited ${String(code)}`));
        });
      });
      const report = JSON.parse(output) as { size: number; rssGrowthMiB: number };
      expect(report.size).toBe(1024 * 1024 * 1024);
      expect(report.rssGrowthMiB).toBeLessThan(100);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`${command} ${args.join(' ')} exited ${String(code)}`));
    });
  });
}
