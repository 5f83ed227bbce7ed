import { readFileSync } from 'node:fs';
import { AlignedBufferPool } from './direct-io.js';
import { sendBuffersOnHugePages } from './fs-blob-store.js';
import { type HugePages, hugePages, hugePagesFrom } from './huge-pages.js';

const MiB = 1 << 20;
const machineFacts = {
  enabled: readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'),
  pmdSize: readFileSync('/sys/kernel/mm/transparent_hugepage/hpage_pmd_size', 'utf8'),
};
const machineMode = /\[(\w+)\]/.exec(machineFacts.enabled)?.[1];
const machineHasThp = machineMode === 'always' || machineMode === 'madvise';

/** An addon that records its calls and answers `offset`. */
function fakeAddon(offset: number) {
  const calls: { byteLength: number; size: number; length: number }[] = [];
  return {
    calls,
    adviseHugePages(memory: ArrayBuffer, size: number, length: number) {
      calls.push({ byteLength: memory.byteLength, size, length });
      return offset;
    },
  };
}

const madvise = { enabled: 'always [madvise] never\n', pmdSize: '2097152\n' };

function anonHugePagesKiB(): number {
  const match = /^AnonHugePages:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/smaps_rollup', 'utf8'));
  if (!match?.[1]) throw new Error('no AnonHugePages in /proc/self/smaps_rollup');
  return Number(match[1]);
}

describe('hugePagesFrom', () => {
  it('says why there are none: no addon, no transparent huge pages, `never`, or an odd size', () => {
    const noAddon = new Error('the native addon is not built');
    expect(hugePagesFrom(noAddon, madvise)).toBe(noAddon);
    const noThp = new Error('this kernel has no transparent huge pages');
    expect(hugePagesFrom(fakeAddon(0), noThp)).toBe(noThp);
    expect(hugePagesFrom(fakeAddon(0), { ...madvise, enabled: 'always madvise [never]\n' })).toEqual(
      new Error('transparent huge pages are set to never'),
    );
    expect(hugePagesFrom(fakeAddon(0), { ...madvise, pmdSize: '3000000\n' })).toEqual(
      new Error('the huge page size "3000000" is not a power of two'),
    );
  });

  it("advises through the addon with the kernel's huge page size, in `always` and `madvise` modes", () => {
    for (const enabled of ['[always] madvise never', 'always [madvise] never']) {
      const addon = fakeAddon(65536);
      const pages = hugePagesFrom(addon, { ...madvise, enabled }) as HugePages;
      expect(pages.size).toBe(2 * MiB);
      expect(pages.advise(new ArrayBuffer(8), 2 * MiB)).toBe(65536);
      expect(addon.calls).toEqual([{ byteLength: 8, size: 2 * MiB, length: 2 * MiB }]);
    }
  });

  it('hands back no offset when the kernel refused, and fails on memory with no room', () => {
    expect((hugePagesFrom(fakeAddon(-1), madvise) as HugePages).advise(new ArrayBuffer(8), 2 * MiB)).toBe(
      undefined,
    );
    expect(() =>
      (hugePagesFrom(fakeAddon(-2), madvise) as HugePages).advise(new ArrayBuffer(8), 2 * MiB),
    ).toThrow(RangeError);
  });
});

describe('AlignedBufferPool on huge pages', () => {
  /** Huge pages of `size` bytes that record the memory they were asked about and answer `offset`. */
  function fakePages(size: number, offset: number | undefined) {
    const asked: { byteLength: number; length: number }[] = [];
    const pages: HugePages = {
      size,
      advise(memory, length) {
        asked.push({ byteLength: memory.byteLength, length });
        return offset;
      },
    };
    return { pages, asked };
  }

  it('cuts its slab at the advised offset, from memory one huge page larger', () => {
    const { pages, asked } = fakePages(128 * 1024, 65536);
    const pool = new AlignedBufferPool(64 * 1024, 2, 4, pages);
    expect(pool.onHugePages).toBe(true);
    const first = pool.take();
    const second = pool.take();
    expect(asked).toEqual([{ byteLength: 256 * 1024, length: 128 * 1024 }]);
    expect([first.byteOffset, second.byteOffset].sort((a, b) => a - b)).toEqual([65536, 131072]);
    expect(first.buffer).toBe(second.buffer);
  });

  it('uses the memory from its start when the kernel refused the advice', () => {
    const { pages } = fakePages(64 * 1024, undefined);
    const buffer = new AlignedBufferPool(64 * 1024, 1, 1, pages).take();
    expect(buffer.byteOffset).toBe(0);
    expect(buffer.length).toBe(64 * 1024);
  });

  it('leaves huge pages alone when a slab is not a whole number of them', () => {
    const { pages, asked } = fakePages(2 * MiB, 0);
    const pool = new AlignedBufferPool(MiB, 1, 1, pages);
    expect(pool.onHugePages).toBe(false);
    expect(pool.take().buffer.byteLength).toBe(MiB);
    expect(asked).toEqual([]);
  });
});

describe('huge pages on this machine (the native addon, built by npm ci)', () => {
  it('matches what the kernel offers', () => {
    if (machineHasThp) {
      expect(hugePages).not.toBeInstanceOf(Error);
      expect((hugePages as HugePages).size).toBe(Number(machineFacts.pmdSize.trim()));
      expect(sendBuffersOnHugePages()).toBe(true);
    } else {
      expect(hugePages).toEqual(new Error(`transparent huge pages are set to ${machineMode}`));
      expect(sendBuffersOnHugePages()).toBeInstanceOf(Error);
    }
  });

  it('backs a pooled buffer with a huge page once it is touched', () => {
    if (!machineHasThp) {
      expect(hugePages).toBeInstanceOf(Error);
      return;
    }
    const pages = hugePages as HugePages;
    const pool = new AlignedBufferPool(pages.size, 1, 1, pages);
    const before = anonHugePagesKiB();
    const buffer = pool.take();
    expect(buffer.byteOffset % 4096).toBe(0);
    buffer.fill(1);
    expect(anonHugePagesKiB() - before).toBeGreaterThanOrEqual(pages.size / 1024);
  });

  it('refuses memory that holds no aligned range of the length asked', () => {
    if (!machineHasThp) {
      expect(hugePages).toBeInstanceOf(Error);
      return;
    }
    const pages = hugePages as HugePages;
    expect(() => pages.advise(new ArrayBuffer(pages.size / 2), pages.size)).toThrow(RangeError);
    expect(() => pages.advise(new ArrayBuffer(pages.size * 2), pages.size + 1)).toThrow(/a multiple of it/);
  });
});
