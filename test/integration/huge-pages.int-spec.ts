import { readFileSync } from 'node:fs';
import {
  AlignedBufferPool,
  type HugePages,
  hugePages,
  hugePagesFrom,
  readTransparentHugePageFacts,
  sendBuffersOnHugePages,
} from '@artifactstore/dataplane';

/**
 * The native addon (built by npm ci) on this machine's kernel. Where the kernel offers no transparent huge pages,
 * each test checks that the process says so instead.
 */
const kernel = hugePagesFrom({ adviseHugePages: () => 0 }, readTransparentHugePageFacts());

interface Mapping {
  readonly range: string;
  readonly sizeKiB: number;
  readonly anonHugeKiB: number;
  readonly advised: boolean;
}

/** This process's mappings, from /proc/self/smaps; `advised` is the `hg` flag that MADV_HUGEPAGE sets. */
function mappings(): Mapping[] {
  const text = readFileSync('/proc/self/smaps', 'utf8');
  return text.split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/).map((entry) => ({
    range: entry.slice(0, entry.indexOf(' ')),
    sizeKiB: Number(/^Size:\s+(\d+) kB$/m.exec(entry)?.[1] ?? NaN),
    anonHugeKiB: Number(/^AnonHugePages:\s+(\d+) kB$/m.exec(entry)?.[1] ?? NaN),
    advised: /^VmFlags:.*\bhg\b/m.test(entry),
  }));
}

describe('huge pages on this machine', () => {
  it('are what the kernel offers, for the send buffers too', () => {
    if (kernel instanceof Error) {
      expect(hugePages()).toEqual(kernel);
      expect(sendBuffersOnHugePages()).toEqual(kernel);
      return;
    }
    expect(hugePages()).not.toBeInstanceOf(Error);
    expect((hugePages() as HugePages).size).toBe(kernel.size);
    expect(sendBuffersOnHugePages()).toBe(true);
  });

  it('back a pooled slab: advised before its first touch, on a huge page once touched', () => {
    const pages = hugePages();
    if (pages instanceof Error) {
      expect(kernel).toBeInstanceOf(Error);
      return;
    }
    const before = new Set(mappings().map((mapping) => mapping.range));
    const buffer = new AlignedBufferPool(pages.size, 1, 0, pages).take();
    const advised = () =>
      mappings().filter((mapping) => mapping.advised && !before.has(mapping.range) && mapping.sizeKiB > 0);
    expect(advised().map((mapping) => mapping.sizeKiB)).toEqual([pages.size / 1024]);
    expect(buffer.buffer.byteLength).toBe(2 * pages.size);
    expect(buffer.byteOffset).toBeLessThan(pages.size);
    // The kernel falls back to small pages when it cannot find a free huge page; /proc/vmstat counts that.
    const fallbacks = () =>
      Number(/^thp_fault_fallback (\d+)$/m.exec(readFileSync('/proc/vmstat', 'utf8'))?.[1]);
    const fallbacksBefore = fallbacks();
    buffer.fill(1);
    expect({ anonHugeKiB: advised()[0]?.anonHugeKiB, fallbacks: fallbacks() - fallbacksBefore }).toEqual({
      anonHugeKiB: pages.size / 1024,
      fallbacks: 0,
    });
  });

  it('refuses arguments it cannot honour, each with its own error', () => {
    const pages = hugePages();
    if (pages instanceof Error) {
      expect(kernel).toBeInstanceOf(Error);
      return;
    }
    expect(() => pages.advise(new ArrayBuffer(pages.size / 2), pages.size)).toThrow(RangeError);
    expect(() => pages.advise(new ArrayBuffer(pages.size * 2), pages.size + 1)).toThrow(
      /a length that is a multiple of it/,
    );
    expect(() => pages.advise(new ArrayBuffer(pages.size * 2), pages.size + 0.5)).toThrow(
      /a length that is a multiple of it/,
    );
    expect(() =>
      pages.advise(new SharedArrayBuffer(pages.size * 2) as unknown as ArrayBuffer, pages.size),
    ).toThrow(/expects an ArrayBuffer and two numbers/);
  });
});
