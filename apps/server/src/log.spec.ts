import { closeSync, openSync } from 'node:fs';
import { createLog, LogDestination } from './log.js';

function failure(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(code), { code });
}

describe('LogDestination', () => {
  it('drops what a full disk refuses without throwing (/dev/full)', () => {
    const fd = openSync('/dev/full', 'w');
    try {
      const destination = new LogDestination(fd);
      const log = createLog('info', destination);
      for (let i = 0; i < 1_000; i++) log.info({ i }, 'a record the disk has no room for');
      expect(destination.droppedRecords).toBe(1_000);
    } finally {
      closeSync(fd);
    }
  });

  it('says how many records were lost, and why, once writing works again', () => {
    const written: string[] = [];
    let full = true;
    const destination = new LogDestination(9, (_fd, bytes) => {
      if (full) throw failure('ENOSPC');
      written.push(bytes.toString('utf8'));
      return bytes.length;
    });
    for (const n of [1, 2, 3]) destination.write(`{"n":${n}}\n`);
    expect(destination.droppedRecords).toBe(3);
    full = false;
    destination.write('{"n":4}\n');
    expect(destination.droppedRecords).toBe(0);
    expect(written).toHaveLength(2);
    expect(JSON.parse(written[0] ?? '')).toMatchObject({
      level: 'warn',
      msg: '3 log record(s) could not be written (ENOSPC) and were dropped',
    });
    expect(written[1]).toBe('{"n":4}\n');
  });

  it('finishes a record across short writes, and starts on a new line after one was cut', () => {
    const written: string[] = [];
    let calls = 0;
    const destination = new LogDestination(9, (_fd, bytes) => {
      calls += 1;
      if (calls === 2) throw failure('EIO');
      const part = bytes.subarray(0, Math.min(4, bytes.length));
      written.push(part.toString('utf8'));
      return part.length;
    });
    destination.write('{"n":1}\n'); // 4 bytes, then EIO: cut
    destination.write('{"n":2}\n');
    const text = written.join('');
    expect(text).toBe(`{"n"\n${text.slice(5)}`);
    expect(text.endsWith('{"n":2}\n')).toBe(true);
    expect(text).toContain('1 log record(s) could not be written (EIO)');
  });

  it('waits for a full pipe (EAGAIN) instead of dropping the record', () => {
    const written: string[] = [];
    let busy = 5;
    const destination = new LogDestination(9, (_fd, bytes) => {
      if (busy-- > 0) throw failure('EAGAIN');
      written.push(bytes.toString('utf8'));
      return bytes.length;
    });
    destination.write('{"n":1}\n');
    expect(written).toEqual(['{"n":1}\n']);
    expect(destination.droppedRecords).toBe(0);
  });
});
