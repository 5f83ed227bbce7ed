import { execFile } from 'node:child_process';
import { mkdtemp, open, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const FILLER = '.filler';

/**
 * A small tmpfs of the test's own (mount needs root, as CI has), for disk-full tests: `fill()` takes every free
 * byte with one file, `free()` deletes it. Call `unmount()` in afterAll whatever happens.
 */
export class TmpfsMount {
  private constructor(readonly path: string) {}

  static async mount(sizeMiB: number): Promise<TmpfsMount> {
    const path = await mkdtemp(join(tmpdir(), 'artifactstore-tmpfs-'));
    try {
      await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=0777`, 'tmpfs', path]);
    } catch (error) {
      await rm(path, { recursive: true, force: true });
      throw error;
    }
    return new TmpfsMount(path);
  }

  /** Writes zeros to one file until the filesystem refuses with ENOSPC; returns the bytes written. */
  async fill(): Promise<number> {
    const handle = await open(join(this.path, FILLER), 'a');
    const block = Buffer.alloc(64 * 1024);
    let written = 0;
    try {
      for (;;) {
        const { bytesWritten } = await handle.write(block);
        written += bytesWritten;
        if (bytesWritten < block.length) break;
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
    }
    // The last partial block: byte by byte is too slow, so halve the size until nothing fits.
    for (let size = block.length / 2; size >= 1; size /= 2) {
      try {
        written += (await handle.write(block.subarray(0, size))).bytesWritten;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
      }
    }
    await handle.close();
    return written;
  }

  /** Deletes the filler file. */
  async free(): Promise<void> {
    await rm(join(this.path, FILLER), { force: true });
  }

  /** Free bytes now. */
  async available(): Promise<number> {
    const stats = await statfs(this.path);
    return stats.bavail * stats.bsize;
  }

  async unmount(): Promise<void> {
    await run('umount', ['-l', this.path]).catch(() => undefined);
    await rm(this.path, { recursive: true, force: true });
  }
}
