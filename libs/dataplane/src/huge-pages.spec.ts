import { AlignedBufferPool } from './direct-io.js';
import { type HugePages, type HugePagesAddon, hugePagesFor, hugePagesFrom } from './huge-pages.js';

const MiB = 1 << 20;

/** An addon that records its calls and answers `answer`. */
function fakeAddon(answer: number | null) {
  const calls: { byteLength: number; size: number; length: number }[] = [];
  const addon: HugePagesAddon = {
    adviseHugePages(memory, size, length) {
      calls.push({ byteLength: memory.byteLength, size, length });
      return answer;
    },
  };
  return { addon, calls };
}

const madvise = {
  enabled: 'always [madvise] never\n',
  pmdSize: '2097152\n',
  status: 'Name:\tnode\nTHP_enabled:\t1\n',
};

describe('hugePagesFrom', () => {
  it('says why there are none: no addon, no sysfs entries, `never`, off for the process, or an odd size', () => {
    const noAddon = new Error('the native addon is not built');
    expect(hugePagesFrom(noAddon, madvise)).toBe(noAddon);
    const { addon } = fakeAddon(0);
    const missing = new Error('ENOENT: no such file or directory');
    expect(hugePagesFrom(addon, { ...madvise, enabled: missing })).toEqual(
      new Error('this kernel has no transparent huge pages (ENOENT: no such file or directory)'),
    );
    expect(hugePagesFrom(addon, { ...madvise, pmdSize: missing })).toEqual(
      new Error('this kernel has no transparent huge pages (ENOENT: no such file or directory)'),
    );
    expect(hugePagesFrom(addon, { ...madvise, enabled: 'always madvise [never]\n' })).toEqual(
      new Error('transparent huge pages are set to never'),
    );
    expect(hugePagesFrom(addon, { ...madvise, status: 'Name:\tnode\nTHP_enabled:\t0\n' })).toEqual(
      new Error('transparent huge pages are disabled for this process (prctl PR_SET_THP_DISABLE)'),
    );
    expect(hugePagesFrom(addon, { ...madvise, pmdSize: '3000000\n' })).toEqual(
      new Error('the huge page size "3000000" is not a power of two'),
    );
  });

  it("advises through the addon with the kernel's huge page size, in `always` and `madvise` modes", () => {
    for (const enabled of ['[always] madvise never', 'always [madvise] never']) {
      // A kernel older than THP_enabled in /proc/self/status (6.x added it) is taken at its sysfs word.
      for (const status of [madvise.status, new Error('EACCES')]) {
        const { addon, calls } = fakeAddon(65536);
        const pages = hugePagesFrom(addon, { ...madvise, enabled, status }) as HugePages;
        expect(pages.size).toBe(2 * MiB);
        expect(pages.advise(new ArrayBuffer(8), 2 * MiB)).toBe(65536);
        expect(calls).toEqual([{ byteLength: 8, size: 2 * MiB, length: 2 * MiB }]);
      }
    }
  });

  it('names the errno when the kernel refused, and fails on memory with no room', () => {
    const refused = hugePagesFrom(fakeAddon(-22).addon, madvise) as HugePages;
    expect(refused.advise(new ArrayBuffer(8), 2 * MiB)).toEqual(
      new Error('madvise(MADV_HUGEPAGE) failed: EINVAL'),
    );
    const noRoom = hugePagesFrom(fakeAddon(null).addon, madvise) as HugePages;
    expect(() => noRoom.advise(new ArrayBuffer(8), 2 * MiB)).toThrow(RangeError);
  });
});

describe('hugePagesFor', () => {
  it('passes huge pages on for slabs that are whole numbers of them, and says why not otherwise', () => {
    const pages = hugePagesFrom(fakeAddon(0).addon, madvise) as HugePages;
    expect(hugePagesFor(4 * MiB, pages)).toBe(pages);
    expect(hugePagesFor(MiB, pages)).toEqual(
      new Error('1048576-byte buffers are not a whole number of 2097152-byte huge pages'),
    );
    const none = new Error('transparent huge pages are set to never');
    expect(hugePagesFor(4 * MiB, none)).toBe(none);
  });
});

describe('AlignedBufferPool on huge pages', () => {
  /** Huge pages of `size` bytes that record the memory they were asked about and answer `answer`. */
  function fakePages(size: number, answer: number | Error) {
    const asked: { byteLength: number; length: number }[] = [];
    const pages: HugePages = {
      size,
      advise(memory, length) {
        asked.push({ byteLength: memory.byteLength, length });
        return answer;
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

  it('uses ordinary pages from the first refusal on, and says why', () => {
    const refusal = new Error('madvise(MADV_HUGEPAGE) failed: EINVAL');
    const { pages, asked } = fakePages(64 * 1024, refusal);
    const pool = new AlignedBufferPool(64 * 1024, 1, 0, pages);
    expect(pool.take().byteOffset).toBe(0);
    expect(pool.take().buffer.byteLength).toBe(64 * 1024);
    expect(asked).toHaveLength(1);
    expect(pool.onHugePages).toBe(refusal);
  });

  it('says it has none when none were given, and refuses huge pages a slab is not a whole number of', () => {
    expect(new AlignedBufferPool(64 * 1024, 1, 1).onHugePages).toEqual(new Error('no huge pages were given'));
    const never = new Error('transparent huge pages are set to never');
    expect(new AlignedBufferPool(64 * 1024, 1, 1, never).onHugePages).toBe(never);
    expect(() => new AlignedBufferPool(MiB, 1, 1, fakePages(2 * MiB, 0).pages)).toThrow(RangeError);
  });
});
