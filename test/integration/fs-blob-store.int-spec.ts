import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, open, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { loadConfig } from '@artifactstore/config';
import {
  createBlobStore,
  FsBlobStore,
  processStartTime,
  StorageError,
  tempFileName,
  thisProcessOwner,
  type TempFileOwner,
} from '@artifactstore/dataplane';
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
    leftovers: async () => (await readdir(join(root, 'tmp'))).map((name) => join(root, 'tmp', name)),
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

  it('lists every blob with its size, and nothing else in its folders', async () => {
    const { store, root, dispose } = await makeFsStore();
    try {
      const a = await store.ingest([Buffer.alloc(0)]);
      const b = await store.ingest([Buffer.alloc(5000, 1)]);
      const fanOut = join(root, b.key.slice(0, 2), b.key.slice(2, 4));
      await writeFile(join(fanOut, 'notes.txt'), 'not a blob');
      // A key-shaped name in a folder it does not belong in (the empty blob's key starts af13) is not a blob.
      await mkdir(join(root, 'ff', 'ff'), { recursive: true });
      await writeFile(join(root, 'ff', 'ff', a.key), 'misplaced');
      await writeFile(join(root, 'tmp', tempFileName(thisProcessOwner())), 'partial');
      const listed = [];
      for await (const { key, size } of store.listWithSizes()) listed.push({ key, size });
      expect(listed.sort((x, y) => x.key.localeCompare(y.key))).toEqual(
        [
          { key: a.key, size: 0 },
          { key: b.key, size: 5000 },
        ].sort((x, y) => x.key.localeCompare(y.key)),
      );
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

describe('FsBlobStore temp files at startup (Linux: names record their process)', () => {
  const self = thisProcessOwner();
  let root: string;

  beforeAll(() => {
    // The names need /proc; CI runs on Linux, where a missing owner is a bug rather than a platform.
    expect(self).toBeDefined();
  });

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'artifactstore-temp-'));
    await new FsBlobStore(root).init();
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  /** Leaves a fresh temp file as `owner` would name it, optionally last written `ageMs` ago; returns its name. */
  async function leaveTempFile(owner: TempFileOwner, ageMs = 0): Promise<string> {
    const name = tempFileName(owner);
    await writeFile(join(root, 'tmp', name), 'partial');
    if (ageMs > 0) {
      const then = new Date(Date.now() - ageMs);
      await utimes(join(root, 'tmp', name), then, then);
    }
    return name;
  }

  /** The temp files left after another server starts on the same folder. */
  async function afterRestart(): Promise<string[]> {
    await new FsBlobStore(root).init();
    return (await readdir(join(root, 'tmp'))).sort();
  }

  function idleChild(): ChildProcess {
    return spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120_000)'], { stdio: 'ignore' });
  }

  it("names an ingest's temp file for its process", async () => {
    const store = new FsBlobStore(root);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const streaming = new Promise<void>((resolve) => (started = resolve));
    // Declared with its type, not inline: when TypeScript 6 infers an inline generator from ByteSource before it
    // checks ingest-checks.ts, it types the chunks of ByteSource `any` there for the whole program, and type-checked
    // ESLint, linting this file first, reports them.
    async function* headThenTail(): AsyncGenerator<Buffer> {
      yield Buffer.from('head');
      started();
      await held;
      yield Buffer.from('tail');
    }
    const ingest = store.ingest(headThenTail());
    await streaming;
    const names = await readdir(join(root, 'tmp'));
    release();
    await ingest;
    const owner = self!;
    expect(names).toHaveLength(1);
    expect(names[0]).toMatch(
      new RegExp(`^${owner.host}-${owner.boot}-${process.pid}-${owner.startTime}-[0-9a-f]{16}\\.tmp$`),
    );
  });

  it("keeps a live ingest's staging copy when another server starts on the folder", async () => {
    const store = new FsBlobStore(root);
    const receipt = await store.ingest([Buffer.from('committed later')]);
    expect(await afterRestart()).toEqual([basename(receipt.staging)]);
    await store.delete(receipt.key);
    expect(await store.ensureStored(receipt)).toBe(true);
  });

  it('removes the temp file of a process of this boot that has ended, however new', async () => {
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    const exited = once(child, 'exit');
    // Its real start time when it is still there to read, so that only the free pid tells it has ended.
    const startTime = (await processStartTime(child.pid!).catch(() => undefined)) ?? '1';
    await exited;
    await leaveTempFile({ ...self!, pid: child.pid!, startTime });
    expect(await afterRestart()).toEqual([]);
  });

  it('keeps the temp file of a live process (this one, another), and removes it once that process ends', async () => {
    const child = idleChild();
    try {
      const startTime = await processStartTime(child.pid!);
      const ours = await leaveTempFile(self!);
      const theirs = await leaveTempFile({ ...self!, pid: child.pid!, startTime: startTime! });
      // The same pid started at another time is a later process: the file's owner has ended.
      await leaveTempFile({ ...self!, pid: child.pid!, startTime: `${Number(startTime) + 1}` });
      expect(await afterRestart()).toEqual([ours, theirs].sort());
      child.kill('SIGKILL');
      await once(child, 'exit');
      expect(await afterRestart()).toEqual([ours]);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('removes the temp file of an earlier boot of this host', async () => {
    await leaveTempFile({ ...self!, boot: self!.boot === '0'.repeat(32) ? '1'.repeat(32) : '0'.repeat(32) });
    expect(await afterRestart()).toEqual([]);
  });

  it('keeps the temp file of another host, or with a name that records no process, until it is an hour old', async () => {
    const otherHost = self!.host === '0'.repeat(16) ? '1'.repeat(16) : '0'.repeat(16);
    // Another host's pid and boot say nothing here: the pid of a process that has ended on this one.
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    await once(child, 'exit');
    const fresh = await leaveTempFile({ ...self!, host: otherHost, pid: child.pid! });
    await leaveTempFile({ ...self!, host: otherHost, pid: child.pid! }, 2 * 3600_000);
    await writeFile(join(root, 'tmp', 'upload.tmp'), 'partial');
    expect(await afterRestart()).toEqual([fresh, 'upload.tmp'].sort());
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
