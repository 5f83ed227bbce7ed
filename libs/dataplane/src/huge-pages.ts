import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * Transparent huge pages for buffers that O_DIRECT reads fill. The kernel hands the device one segment per
 * physically contiguous run of a buffer: 512 for 2 MiB of 4 KiB pages, one for 2 MiB on a huge page. On the VMs
 * measured here (virtio-blk) a 2 MiB O_DIRECT read into a huge page ran at 3.7 GiB/s, into 4 KiB pages at 1.3
 * (ADR 0010). Node cannot ask for huge pages, so a native addon (libs/dataplane/native) makes the one madvise call.
 */
export interface HugePages {
  /** The huge page size (the PMD size: 2 MiB on x86-64). */
  readonly size: number;
  /**
   * Advises huge pages for `length` bytes of `memory` (a multiple of `size`), at the first offset aligned to
   * `size`; returns that offset, or undefined when the kernel refused (the memory is then used as it is). `memory`
   * must not have been touched yet and must have room for `length` bytes plus `size` of slack.
   */
  advise(memory: ArrayBuffer, length: number): number | undefined;
}

interface HugePagesAddon {
  adviseHugePages(memory: ArrayBuffer, hugePageSize: number, length: number): number;
}

/** The facts of this kernel's transparent huge pages, as sysfs tells them; readable for tests. */
export interface TransparentHugePageFacts {
  /** The contents of `enabled`, e.g. `always [madvise] never`. */
  readonly enabled: string;
  /** The contents of `hpage_pmd_size`, in bytes. */
  readonly pmdSize: string;
}

const THP = '/sys/kernel/mm/transparent_hugepage';

/** Where the addon is built: beside the sources (tests run from libs/), and from dist/libs/dataplane/src. */
const ADDON_PATHS = [
  '../native/build/Release/huge_pages.node',
  '../../../../libs/dataplane/native/build/Release/huge_pages.node',
];

function loadAddon(): HugePagesAddon | Error {
  const require = createRequire(import.meta.url);
  const errors: string[] = [];
  for (const path of ADDON_PATHS) {
    try {
      return require(fileURLToPath(new URL(path, import.meta.url))) as HugePagesAddon;
    } catch (error) {
      errors.push((error as Error).message.split('\n')[0] ?? String(error));
    }
  }
  return new Error(`the native addon is not built (${errors.join('; ')}); run \`npm run install\``);
}

function readFacts(): TransparentHugePageFacts | Error {
  try {
    return {
      enabled: readFileSync(`${THP}/enabled`, 'utf8'),
      pmdSize: readFileSync(`${THP}/hpage_pmd_size`, 'utf8'),
    };
  } catch (error) {
    return new Error(`this kernel has no transparent huge pages (${(error as Error).message})`);
  }
}

/**
 * Huge pages from an addon and the kernel's facts, or why there are none: the addon did not load, the kernel has
 * no transparent huge pages or has them set to `never`, or their size is not a power of two.
 */
export function hugePagesFrom(
  addon: HugePagesAddon | Error,
  facts: TransparentHugePageFacts | Error,
): HugePages | Error {
  if (addon instanceof Error) return addon;
  if (facts instanceof Error) return facts;
  const mode = /\[(\w+)\]/.exec(facts.enabled)?.[1];
  if (mode !== 'always' && mode !== 'madvise')
    return new Error(`transparent huge pages are set to ${mode ?? JSON.stringify(facts.enabled.trim())}`);
  const size = Number(facts.pmdSize.trim());
  if (!Number.isSafeInteger(size) || size <= 0 || (size & (size - 1)) !== 0)
    return new Error(`the huge page size ${JSON.stringify(facts.pmdSize.trim())} is not a power of two`);
  return {
    size,
    advise(memory, length) {
      const offset = addon.adviseHugePages(memory, size, length);
      if (offset === -2) throw new RangeError(`${memory.byteLength} bytes hold no aligned ${length}`);
      return offset >= 0 ? offset : undefined;
    },
  };
}

/** This process's huge pages, or why there are none (the server logs it at startup). */
export const hugePages: HugePages | Error = hugePagesFrom(loadAddon(), readFacts());
