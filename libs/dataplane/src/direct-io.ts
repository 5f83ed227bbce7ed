import { constants } from 'node:fs';
import type { HugePages } from './huge-pages.js';

/** O_DIRECT where the platform has it (Linux); undefined elsewhere. */
export const O_DIRECT: number | undefined = (constants as { O_DIRECT?: number }).O_DIRECT;

/** The error a filesystem gives when it refuses O_DIRECT (at open or at a misaligned transfer). */
export function isInvalidArgument(error: unknown): boolean {
  return (error as { code?: unknown }).code === 'EINVAL';
}

/** What O_DIRECT asks of buffer addresses, file offsets and lengths on Linux filesystems (logical blocks ≤ 4 KiB). */
export const DIRECT_IO_ALIGNMENT = 4096;

const WASM_PAGE = 64 * 1024;

/** The one part of the WebAssembly global used here (its types live in lib.dom, which this project leaves out). */
declare const WebAssembly: {
  readonly Memory: new (descriptor: { readonly initial: number }) => { readonly buffer: ArrayBuffer };
};

/**
 * Page-aligned buffers of one size, for direct I/O, recycled between ingests. Node offers no aligned allocation, but
 * a WebAssembly.Memory is mapped by V8 on page boundaries and sized in 64 KiB pages, so every buffer cut from one at
 * a multiple of 64 KiB is aligned. Memories are allocated in slabs of several buffers and never grow (growing would
 * detach the buffers); a slab is freed by the garbage collector once none of its buffers is held or idle here.
 * Given huge pages, each slab starts on a huge page boundary and is advised onto them before its first touch
 * (huge-pages.ts).
 */
export class AlignedBufferPool {
  private readonly idle: Buffer[] = [];
  private readonly slab: number;
  /**
   * The huge pages new slabs go on, or why they go on ordinary pages: none were given, or the kernel refused a
   * slab (that slab and later ones then use ordinary pages).
   */
  private hugePages: HugePages | Error;

  /** `hugePages`, when given, must divide a slab (`hugePagesFor`); an Error says why there are none. */
  constructor(
    readonly bufferSize: number,
    private readonly buffersPerSlab: number,
    private readonly maxIdle: number,
    hugePages: HugePages | Error = new Error('no huge pages were given'),
  ) {
    if (bufferSize % WASM_PAGE !== 0) throw new RangeError(`buffer size must be a multiple of ${WASM_PAGE}`);
    this.slab = bufferSize * buffersPerSlab;
    if (!(hugePages instanceof Error) && this.slab % hugePages.size !== 0)
      throw new RangeError(`a slab of ${this.slab} bytes is not a whole number of huge pages`);
    this.hugePages = hugePages;
  }

  /** Whether new slabs go on huge pages, and if not, why. */
  get onHugePages(): true | Error {
    return this.hugePages instanceof Error ? this.hugePages : true;
  }

  take(): Buffer {
    const buffer = this.idle.pop();
    if (buffer) return buffer;
    const pages = this.hugePages instanceof Error ? undefined : this.hugePages;
    // With huge pages, one huge page of slack lets the slab start on a huge page boundary; the slack is never
    // touched, so it takes address space and no resident memory.
    const memory = new WebAssembly.Memory({ initial: (this.slab + (pages?.size ?? 0)) / WASM_PAGE });
    let start = 0;
    if (pages) {
      const advised = pages.advise(memory.buffer, this.slab);
      if (advised instanceof Error) this.hugePages = advised;
      else start = advised;
    }
    for (let index = 1; index < this.buffersPerSlab && this.idle.length < this.maxIdle; index++) {
      this.idle.push(Buffer.from(memory.buffer, start + index * this.bufferSize, this.bufferSize));
    }
    return Buffer.from(memory.buffer, start, this.bufferSize);
  }

  /** Hands a buffer back once no I/O uses it any more. */
  give(buffer: Buffer): void {
    if (buffer.length === this.bufferSize && this.idle.length < this.maxIdle) this.idle.push(buffer);
  }

  get idleCount(): number {
    return this.idle.length;
  }
}

/** Size of the buffers of `directIoBuffers`: one write block, one read chunk. */
export const DIRECT_IO_BUFFER = 1 << 20;

/**
 * The process's aligned buffers for direct I/O, shared by ingests and reads: an ingest holds at most three, a read
 * two, each only while its I/O runs; up to 32 MiB stay idle between them. One buffer per slab, as for the sends'
 * pool (fs-blob-store.ts): 32 concurrent 256 MiB uploads peaked at 483–552 MiB RSS with slabs of eight, 308–323
 * with slabs of one.
 */
export const directIoBuffers = new AlignedBufferPool(DIRECT_IO_BUFFER, 1, 32);
