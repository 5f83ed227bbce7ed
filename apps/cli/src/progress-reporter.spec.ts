import { formatBytes, ProgressReporter, type ProgressSink } from './progress-reporter.js';

function sink(isTTY: boolean, columns = 120): ProgressSink & { text: string } {
  const target = {
    isTTY,
    columns,
    text: '',
    write(text: string) {
      target.text += text;
      return true;
    },
  };
  return target;
}

describe('ProgressReporter', () => {
  it('draws one bar redrawn in place on a terminal: files, bytes, rate and ETA', () => {
    let now = 0;
    const terminal = sink(true);
    const progress = new ProgressReporter('uploaded', 2, 2048, terminal, false, () => now);
    now = 1000;
    progress.bytes(1024);
    progress.fileDone('a.bin', 1024);
    now = 2000;
    progress.bytes(1024);
    progress.fileDone('b.bin', 1024);
    progress.finish();
    expect(terminal.text.startsWith('\r[')).toBe(true);
    expect(terminal.text).toContain('2/2 files  2.0 KiB/2.0 KiB');
    expect(terminal.text).toMatch(/\/s {2}ETA /);
    expect(terminal.text).not.toContain('uploaded a.bin');
    expect(terminal.text.endsWith('\n')).toBe(true);
  });

  it('draws the whole bar on a terminal that reports no width (0 columns), and cuts it on a narrow one', () => {
    for (const [columns, expected] of [
      [0, /ETA 0s\s*\n$/],
      [30, /^\r\[#{24}\] 1\/\n$/],
    ] as const) {
      const terminal = sink(true, columns);
      const progress = new ProgressReporter('uploaded', 1, 10, terminal, false, () => 1000);
      progress.bytes(10);
      progress.fileDone('a.bin', 10);
      terminal.text = '';
      progress.finish();
      expect(terminal.text).toMatch(expected);
    }
  });

  it('writes plain lines, never a carriage return, when the output is not a terminal', () => {
    const pipe = sink(false);
    const progress = new ProgressReporter('uploaded', 2, 5, pipe);
    progress.bytes(5);
    progress.fileDone('a.txt', 5);
    progress.skippedBytes(0);
    progress.fileDone('b.txt', 0, true);
    progress.finish();
    expect(pipe.text).toBe('uploaded a.txt (5 B)\nskipped b.txt (0 B)\n');
  });

  it('says nothing when quiet (--json), even on a terminal', () => {
    const terminal = sink(true);
    const progress = new ProgressReporter('uploaded', 1, 1, terminal, true);
    progress.bytes(1);
    progress.fileDone('a', 1);
    progress.finish();
    expect(terminal.text).toBe('');
  });

  it('spells sizes in binary units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(512.4375)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3.0 GiB');
  });
});
