import { constants } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** O_DIRECT where the platform has it (Linux); undefined elsewhere. */
export const O_DIRECT: number | undefined = (constants as { O_DIRECT?: number }).O_DIRECT;

/** What O_DIRECT asks of buffer addresses, file offsets and lengths on Linux filesystems (logical blocks ≤ 4 KiB). */
export const DIRECT_IO_ALIGNMENT = 4096;

const WASM_PAGE = 64 * 1024;

/** The one part of the WebAssembly global used here (its types live in lib.dom, which this project leaves out). */
declare const WebAssembly: {
  readonly Memory: new (descriptor: { readonly initial: number }) => { readonly buffer: ArrayBuffer };
};

/** Fresh page-aligned memory of `size` bytes (a multiple of 64 KiB). */
function alignedBuffer(size: number): Buffer {
  return Buffer.from(new WebAssembly.Memory({ initial: size / WASM_PAGE }).buffer);
}

/**
 * Page-aligned buffers of one size, recycled. Node offers no aligned allocation, but V8 maps a WebAssembly.Memory on
 * a page boundary, so each buffer is one Memory of its own (one per buffer: a Memory lives until every buffer cut
 * from it is dropped, so sharing one kept memory alive after a burst of transfers).
 */
export class AlignedBufferPool {
  private readonly idle: Buffer[] = [];

  constructor(
    readonly bufferSize: number,
    private readonly maxIdle: number,
  ) {
    if (bufferSize % WASM_PAGE !== 0) throw new RangeError(`buffer size must be a multiple of ${WASM_PAGE}`);
  }

  take(): Buffer {
    return this.idle.pop() ?? alignedBuffer(this.bufferSize);
  }

  /** Hands a buffer back once no I/O uses it any more. */
  give(buffer: Buffer): void {
    if (buffer.length === this.bufferSize && this.idle.length < this.maxIdle) this.idle.push(buffer);
  }

  get idleCount(): number {
    return this.idle.length;
  }
}

/**
 * The process's buffers for file I/O, 2 MiB each: the blocks ingests write and the chunks reads read, each held only
 * while its I/O runs and, for a read, until its bytes have gone out; up to 64 MiB stay idle between transfers.
 * Memory a transfer has used before costs nothing more to touch, while fresh memory (also the page cache's) must
 * first be faulted in and zeroed, at up to 2 CPU-s per GiB on the VM measured (docs/adr/0011).
 */
export const ioBuffers = new AlignedBufferPool(2 << 20, 32);

/**
 * Whether files in `folder` take O_DIRECT writes: a probe file is created with O_DIRECT, one aligned block written
 * and the file removed. False where the platform has no O_DIRECT or the filesystem refuses it (EINVAL at open or
 * at the write: tmpfs on older kernels, some FUSE and network filesystems); any other failure is thrown.
 */
export async function takesDirectWrites(folder: string, probeName: string): Promise<boolean> {
  if (O_DIRECT === undefined) return false;
  const path = join(folder, probeName);
  const buffer = alignedBuffer(WASM_PAGE).subarray(0, DIRECT_IO_ALIGNMENT);
  try {
    const handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_DIRECT);
    try {
      await handle.write(buffer, 0, buffer.length, 0);
    } finally {
      await handle.close();
    }
    return true;
  } catch (error) {
    if ((error as { code?: unknown }).code === 'EINVAL') return false;
    throw error;
  } finally {
    await rm(path, { force: true });
  }
}
