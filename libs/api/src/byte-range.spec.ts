import { parseRange } from './byte-range.js';

describe('parseRange', () => {
  const size = 1000;

  it('asks for the whole representation without a Range header', () => {
    expect(parseRange(undefined, size)).toEqual({ kind: 'whole' });
  });

  it.each([
    ['bytes=0-99', 0, 99],
    ['bytes=0-0', 0, 0],
    ['bytes=999-999', 999, 999],
    ['bytes=500-', 500, 999],
    ['bytes=990-2000', 990, 999],
    ['bytes=0-99999999999999999999', 0, 999],
    ['Bytes = 10-19', 10, 19],
    ['bytes= 10-19 ', 10, 19],
    ['bytes=10-19,', 10, 19],
  ])('reads %j as one range %i–%i (the end clamped to the last byte)', (header, start, end) => {
    expect(parseRange(header, size)).toEqual({ kind: 'single', start, end });
  });

  it.each([
    ['bytes=-100', 900, 999],
    ['bytes=-1', 999, 999],
    ['bytes=-1000', 0, 999],
    ['bytes=-5000', 0, 999],
  ])('reads the suffix range %j as the last bytes, %i–%i', (header, start, end) => {
    expect(parseRange(header, size)).toEqual({ kind: 'single', start, end });
  });

  it.each([['bytes=0-1,5-6'], ['bytes=0-1, -1'], ['bytes=0-1,0-1'], ['bytes=-1,-2']])(
    'answers several ranges (%j) with the whole body',
    (header) => {
      expect(parseRange(header, size)).toEqual({ kind: 'whole' });
    },
  );

  it.each([
    ['items=0-1'],
    ['bytes 0-1'],
    ['bytes='],
    ['bytes=-'],
    ['bytes=a-b'],
    ['bytes=1-2-3'],
    ['bytes=0x10-0x20'],
    ['bytes=+1-2'],
    ['bytes=1.5-2'],
    ['bytes=5-2'],
    [''],
  ])('ignores the unreadable or invalid %j: the whole body', (header) => {
    expect(parseRange(header, size)).toEqual({ kind: 'whole' });
  });

  it.each([['bytes=1000-'], ['bytes=1000-1001'], ['bytes=99999999999999999999-'], ['bytes=-0']])(
    'finds %j unsatisfiable',
    (header) => {
      expect(parseRange(header, size)).toEqual({ kind: 'unsatisfiable' });
    },
  );

  it('finds every range of an empty representation unsatisfiable', () => {
    for (const header of ['bytes=0-', 'bytes=0-0', 'bytes=-1']) {
      expect([header, parseRange(header, 0)]).toEqual([header, { kind: 'unsatisfiable' }]);
    }
    expect(parseRange('bytes=0-1,2-3', 0)).toEqual({ kind: 'whole' });
  });
});
