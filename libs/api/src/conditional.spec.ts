import { ifNoneMatchHits, ifRangeHolds } from './conditional.js';

describe('ifNoneMatchHits', () => {
  const etag = '"abc"';

  it('does not hit without the header', () => {
    expect(ifNoneMatchHits(undefined, etag)).toBe(false);
  });

  it.each([['"abc"'], [' "abc" '], ['W/"abc"'], ['"x", "abc"'], ['"x",W/"abc","y"'], ['*'], [' * ']])(
    'hits on %j (weak comparison)',
    (header) => {
      expect(ifNoneMatchHits(header, etag)).toBe(true);
    },
  );

  it('compares a weak ETag of ours weakly too', () => {
    expect(ifNoneMatchHits('"abc"', 'W/"abc"')).toBe(true);
  });

  it.each([
    ['"ab"'],
    ['"abcd"'],
    ['abc'],
    ['"ABC"'],
    ['"x", "y"'],
    [''],
    ['"x", *'],
    ['W/ "abc"'],
    ['foo"abc"bar'],
    ['"abc" junk'],
    ['w/"abc"'],
  ])('misses on %j', (header) => {
    expect(ifNoneMatchHits(header, etag)).toBe(false);
  });

  it('reads empty list members, and a long blank header quickly', () => {
    expect(ifNoneMatchHits(', ,"abc",', etag)).toBe(true);
    const started = performance.now();
    expect(ifNoneMatchHits(`${' '.repeat(100_000)}x`, etag)).toBe(false);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('keeps a comma inside an entity tag', () => {
    expect(ifNoneMatchHits('"a,b"', '"a,b"')).toBe(true);
    expect(ifNoneMatchHits('"a,b"', '"a"')).toBe(false);
  });
});

describe('ifRangeHolds', () => {
  const etag = '"abc"';

  it('holds without the header', () => {
    expect(ifRangeHolds(undefined, etag)).toBe(true);
  });

  it('holds for the same strong ETag', () => {
    expect(ifRangeHolds('"abc"', etag)).toBe(true);
    expect(ifRangeHolds(' "abc" ', etag)).toBe(true);
  });

  it.each([['W/"abc"'], ['"other"'], ['*'], ['Wed, 21 Oct 2026 07:28:00 GMT'], ['']])(
    'does not hold for %j (strong comparison only; dates are not used)',
    (header) => {
      expect(ifRangeHolds(header, etag)).toBe(false);
    },
  );
});
