import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

/**
 * Transparent huge pages for buffers that O_DIRECT reads fill, so that a read is one device segment rather than
 * one per 4 KiB page (ADR 0010). Node cannot ask for them; a native addon (libs/dataplane/native) makes the one
 * madvise call.
 */
export interface HugePages {
  /** The huge page size (the PMD size: 2 MiB on x86-64). */
  readonly size: number;
  /**
   * Advises huge pages for `length` bytes of `memory` (a multiple of `size`) from its first offset aligned to
   * `size`, and returns that offset, or an Error saying why the kernel refused. `memory` must belong to the caller
   * alone, must not have been touched yet, and must have room for `length` bytes plus `size` of slack.
   */
  advise(memory: ArrayBuffer, length: number): number | Error;
}

export interface HugePagesAddon {
  /** The offset advised, -errno when madvise refused, null when `memory` holds no aligned `length`. */
  adviseHugePages(memory: ArrayBuffer, hugePageSize: number, length: number): number | null;
}

/** What the kernel says of transparent huge pages, as read from sysfs and /proc (an Error where it cannot be read). */
export interface TransparentHugePageFacts {
  /** `/sys/kernel/mm/transparent_hugepage/enabled`, e.g. `always [madvise] never`. */
  readonly enabled: string | Error;
  /** `/sys/kernel/mm/transparent_hugepage/hpage_pmd_size`, in bytes. */
  readonly pmdSize: string | Error;
  /** `/proc/self/status`, whose `THP_enabled: 0` means this process may not have them (prctl). */
  readonly status: string | Error;
}

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

function read(path: string): string | Error {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    return error as Error;
  }
}

export function readTransparentHugePageFacts(): TransparentHugePageFacts {
  return {
    enabled: read('/sys/kernel/mm/transparent_hugepage/enabled'),
    pmdSize: read('/sys/kernel/mm/transparent_hugepage/hpage_pmd_size'),
    status: read('/proc/self/status'),
  };
}

/**
 * Huge pages from an addon and the kernel's facts, or why there are none: the addon did not load, the kernel has
 * no transparent huge pages, has them set to `never` or off for this process, or gives a size that is not a power
 * of two.
 */
export function hugePagesFrom(
  addon: HugePagesAddon | Error,
  facts: TransparentHugePageFacts,
): HugePages | Error {
  if (addon instanceof Error) return addon;
  const { enabled, pmdSize, status } = facts;
  if (enabled instanceof Error || pmdSize instanceof Error) {
    const error = enabled instanceof Error ? enabled : (pmdSize as Error);
    return new Error(`this kernel has no transparent huge pages (${error.message})`);
  }
  const mode = /\[(\w+)\]/.exec(enabled)?.[1];
  if (mode !== 'always' && mode !== 'madvise')
    return new Error(`transparent huge pages are set to ${mode ?? JSON.stringify(enabled.trim())}`);
  if (typeof status === 'string' && /^THP_enabled:\s*0$/m.test(status))
    return new Error('transparent huge pages are disabled for this process (prctl PR_SET_THP_DISABLE)');
  const size = Number(pmdSize.trim());
  if (!Number.isSafeInteger(size) || size <= 0 || !Number.isInteger(Math.log2(size)))
    return new Error(`the huge page size ${JSON.stringify(pmdSize.trim())} is not a power of two`);
  return {
    size,
    advise(memory, length) {
      const offset = addon.adviseHugePages(memory, size, length);
      if (offset === null) throw new RangeError(`${memory.byteLength} bytes hold no aligned ${length}`);
      return offset >= 0 ? offset : new Error(`madvise(MADV_HUGEPAGE) failed: ${errnoName(-offset)}`);
    },
  };
}

function errnoName(code: number): string {
  const name = Object.entries(constants.errno).find(([, value]) => value === code)?.[0];
  return name ?? `errno ${code}`;
}

let processHugePages: HugePages | Error | undefined;

/** This process's huge pages, or why there are none; the addon is loaded and the facts read at the first call. */
export function hugePages(): HugePages | Error {
  processHugePages ??= hugePagesFrom(loadAddon(), readTransparentHugePageFacts());
  return processHugePages;
}

/** Huge pages for slabs of `slabBytes`, or why not: none at all, or a slab that is not a whole number of them. */
export function hugePagesFor(slabBytes: number, pages: HugePages | Error = hugePages()): HugePages | Error {
  if (pages instanceof Error) return pages;
  if (slabBytes % pages.size !== 0)
    return new Error(`${slabBytes}-byte buffers are not a whole number of ${pages.size}-byte huge pages`);
  return pages;
}
