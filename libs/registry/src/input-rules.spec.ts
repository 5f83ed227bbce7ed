import { simpleCaseFold } from '@artifactstore/codec';
import vectors from '../../../test/fixtures/manifest-vectors.json' with { type: 'json' };
import { PORTABLE_RULE_REASONS } from '../../../test/support/manifest-vectors.js';
import {
  checkLabel,
  checkMediaType,
  checkMetadata,
  checkPortablePath,
  findPathCollision,
  normalizeRelativePath,
  parentDirectories,
  pathCollision,
} from './input-rules.js';
import { InvalidInputError, InvalidRelativePathError } from './registry.errors.js';

const { portablePaths } = vectors;

describe('checkLabel (name, producer, subject)', () => {
  it.each(['a', 'x'.repeat(256), '😀'.repeat(256), 'release 1.2 — ünïcödé', 'tab\u00a0nbsp'])(
    'accepts %j',
    (value) => {
      expect(checkLabel('name', value)).toBe(value);
    },
  );

  it.each([
    ['', 'must be 1 to 256 characters, got 0'],
    ['x'.repeat(257), 'must be 1 to 256 characters, got 257'],
    ['😀'.repeat(257), 'must be 1 to 256 characters, got 257'],
    ['a\nb', 'must not contain control characters'],
    ['a\u0000', 'must not contain control characters'],
    ['a\u007f', 'must not contain control characters'],
    ['a\u0085', 'must not contain control characters'],
    ['a\ud800', 'must not contain a lone surrogate'],
    [42, 'must be a string'],
    [undefined, 'must be a string'],
  ])('refuses %j: %s', (value, reason) => {
    expect(() => checkLabel('name', value)).toThrow(new InvalidInputError('name', reason));
  });
});

describe('checkMetadata', () => {
  const nested = (levels: number): Record<string, unknown> => {
    let value: Record<string, unknown> = {};
    for (let level = 1; level < levels; level++) value = { a: value };
    return value;
  };

  it('defaults to {} and accepts JSON objects', () => {
    expect(checkMetadata(undefined)).toEqual({});
    const value = { build: 7, ratio: 0.25, tags: ['a', 'é'], ok: true, none: null, deep: { x: [1, [2]] } };
    const checked = checkMetadata(value);
    expect(checked).toEqual(value);
    // A copy: changing the caller's object afterwards cannot change what was checked.
    expect(checked).not.toBe(value);
    value.tags.push('\u0000');
    expect(checked.tags).toEqual(['a', 'é']);
  });

  it('accepts 16 levels of nesting (the object itself is level 1) and refuses 17', () => {
    expect(() => checkMetadata(nested(16))).not.toThrow();
    expect(() => checkMetadata(nested(17))).toThrow(/nests deeper than 16 levels/);
    expect(() => checkMetadata({ a: [[[[[[[[[[[[[[[]]]]]]]]]]]]]]] })).not.toThrow();
    expect(() => checkMetadata({ a: [[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]] })).toThrow(InvalidInputError);
  });

  it('accepts 64 KiB of JSON text and refuses one byte more', () => {
    const overhead = Buffer.byteLength('{"k":""}');
    expect(() => checkMetadata({ k: 'x'.repeat(65536 - overhead) })).not.toThrow();
    expect(() => checkMetadata({ k: 'x'.repeat(65537 - overhead) })).toThrow(/65537 bytes as JSON/);
    // Bytes, not characters: é is two bytes of UTF-8.
    expect(() => checkMetadata({ k: 'é'.repeat(32768) })).toThrow(InvalidInputError);
  });

  it.each([
    [[], 'metadata: must be a JSON object'],
    [null, 'metadata: must be a JSON object'],
    ['x', 'metadata: must be a JSON object'],
    [new Date(0), 'metadata: must be a JSON object'],
    [{ n: Number.NaN }, 'metadata.n: must be a finite number'],
    [{ n: Infinity }, 'metadata.n: must be a finite number'],
    [{ u: undefined }, 'metadata.u: must be JSON data, not undefined'],
    [{ b: 1n }, 'metadata.b: must be JSON data, not bigint'],
    [{ d: new Date(0) }, 'metadata.d: must be JSON data'],
    [{ s: 'a\u0000b' }, 'metadata.s: must not contain U+0000'],
    [{ 'a\u0000': 1 }, 'metadata key "a\\u0000": must not contain U+0000'],
    [{ s: ['\udc00'] }, 'metadata.s[0]: must not contain a lone surrogate'],
    // eslint-disable-next-line no-sparse-arrays -- the hole is the point
    [{ s: [1, , 3] }, 'metadata.s[1]: must be JSON data, not undefined'],
  ])('refuses %p', (value, message) => {
    expect(() => checkMetadata(value)).toThrow(message);
  });
});

describe('normalizeRelativePath', () => {
  it.each([
    ['a', 'a'],
    ['dir/sub/file.tar.gz', 'dir/sub/file.tar.gz'],
    ['.hidden/..dots/...', '.hidden/..dots/...'],
    ['cafe\u0301', 'caf\u00e9'],
    ['😀/ü', '😀/ü'],
    ['a b/c:d', 'a b/c:d'],
  ])('accepts %j as %j', (value, expected) => {
    expect(normalizeRelativePath(value)).toBe(expected);
  });

  it('counts bytes after NFC normalization: 1024 is the limit', () => {
    expect(normalizeRelativePath('x'.repeat(1024))).toHaveLength(1024);
    expect(normalizeRelativePath('é'.repeat(512))).toHaveLength(512);
    expect(normalizeRelativePath('e\u0301'.repeat(512))).toBe('é'.repeat(512));
    expect(() => normalizeRelativePath('x'.repeat(1025))).toThrow(/1025 bytes/);
    expect(() => normalizeRelativePath('é'.repeat(513))).toThrow(/1026 bytes/);
  });

  it.each([
    ['', 'must not be empty'],
    ['/etc/passwd', 'must not start with /'],
    ['a//b', 'must not have an empty segment'],
    ['a/', 'must not have an empty segment'],
    ['.', 'must not have a . segment'],
    ['a/./b', 'must not have a . segment'],
    ['..', 'must not have a .. segment'],
    ['a/../../b', 'must not have a .. segment'],
    ['a\\b', 'must not contain a backslash'],
    ['..\\evil', 'must not contain a backslash'],
    ['a\tb', 'must not contain control characters'],
    ['a\nb', 'must not contain control characters'],
    ['\u0000', 'must not contain control characters'],
    ['a\u009bb', 'must not contain control characters'],
    ['a\ud800', 'must be valid Unicode (it has a lone surrogate)'],
  ])('refuses %j: %s', (value, reason) => {
    expect(() => normalizeRelativePath(value)).toThrow(new InvalidRelativePathError(value, reason));
  });

  it('refuses what is not a string', () => {
    expect(() => normalizeRelativePath(7)).toThrow(InvalidRelativePathError);
  });
});

describe('checkPortablePath (golden vectors)', () => {
  it.each(portablePaths.accepted)('accepts %j', (path) => {
    expect(checkPortablePath(normalizeRelativePath(path))).toBe(path);
  });

  it.each(portablePaths.refused)('refuses %j: %s', (path, rule) => {
    const normalized = normalizeRelativePath(path);
    expect(() => checkPortablePath(normalized)).toThrow(InvalidRelativePathError);
    try {
      checkPortablePath(normalized);
    } catch (error) {
      expect((error as InvalidRelativePathError).reason).toMatch(
        PORTABLE_RULE_REASONS[rule] ?? /unknown rule/,
      );
    }
  });

  it('names the device, the segment and the code point it refuses', () => {
    expect(() => checkPortablePath('dir/Nul.tar.gz')).toThrow(
      new InvalidRelativePathError(
        'dir/Nul.tar.gz',
        'segment "Nul.tar.gz" is a device name on Windows (Nul) (portable path rule)',
      ),
    );
    expect(() => checkPortablePath('a/\u202etxt.exe')).toThrow(
      new InvalidRelativePathError(
        'a/\u202etxt.exe',
        'must not contain U+202E, a bidirectional control (portable path rule)',
      ),
    );
  });
});

describe('pathCollision and findPathCollision (golden vectors)', () => {
  it.each(portablePaths.colliding)('%j and %j collide when letter case is folded, not otherwise', (a, b) => {
    expect(pathCollision(a, b, true)).toMatch(/differ only by letter case$/);
    expect(pathCollision(b, a, true)).toMatch(/differ only by letter case$/);
    expect(pathCollision(a, b, false)).toBeUndefined();
    expect(findPathCollision([a, b], true)).toMatchObject({ path: b, conflictsWith: a });
    expect(findPathCollision([b, a], true)).toMatchObject({ path: a, conflictsWith: b });
    expect(findPathCollision([a, b], false)).toBeUndefined();
  });

  it.each(portablePaths.distinct)('%j and %j do not collide', (a, b) => {
    expect(pathCollision(a, b, true)).toBeUndefined();
    expect(findPathCollision([a, b], true)).toBeUndefined();
  });

  it.each(portablePaths.foldings)('folds %j to %j', (path, folded) => {
    expect(simpleCaseFold(path)).toBe(folded);
  });

  it('names the directories that differ only by letter case', () => {
    expect(pathCollision('dir/y', 'Dir/x', true)).toBe('"dir" and "Dir" differ only by letter case');
    expect(pathCollision('a/B/c', 'a/b', true)).toBe('"a/B" and "a/b" differ only by letter case');
  });

  it('finds a file in the place of a directory, and a path given twice, with or without folding', () => {
    for (const foldCase of [true, false]) {
      expect(findPathCollision(['a/b', 'a'], foldCase)).toEqual({
        path: 'a',
        conflictsWith: 'a/b',
        reason: 'a path cannot be both a file and a directory',
      });
      expect(findPathCollision(['x', 'a', 'a/b/c'], foldCase)).toMatchObject({
        path: 'a/b/c',
        conflictsWith: 'a',
      });
      expect(findPathCollision(['a', 'b', 'a'], foldCase)).toMatchObject({ reason: 'the same path twice' });
    }
  });

  it('takes siblings that share a directory or a prefix', () => {
    const paths = ['a/x', 'a/y', 'a/b/c', 'a/b/d', 'a.txt', 'a0', 'ab/c', 'A0.txt'];
    expect(findPathCollision(paths, true)).toBeUndefined();
    expect(findPathCollision([...paths, 'A/z'], true)).toMatchObject({ path: 'A/z', conflictsWith: 'a/x' });
  });
});

describe('parentDirectories', () => {
  it('lists every directory a path lies in', () => {
    expect(parentDirectories('a')).toEqual([]);
    expect(parentDirectories('a/b/c')).toEqual(['a', 'a/b']);
  });
});

describe('checkMediaType', () => {
  it.each([
    'application/octet-stream',
    'text/plain; charset=utf-8',
    'text/plain;charset="utf-8"',
    'application/vnd.oci.image.manifest.v1+json',
    'multipart/form-data; boundary="a b\\"c"',
    'Text/HTML',
    'a/b;',
  ])('accepts %j as given', (value) => {
    expect(checkMediaType(value)).toBe(value);
  });

  it('defaults to application/octet-stream', () => {
    expect(checkMediaType(undefined)).toBe('application/octet-stream');
  });

  it.each([
    '',
    'text',
    'text/',
    '/plain',
    'text/plain/x',
    'text /plain',
    'text/plain; charset',
    'text/plain; charset=',
    'text/plain; charset="unterminated',
    'text/pl ain',
    'tëxt/plain',
    'text/plain\n',
    `application/${'x'.repeat(244)}`,
  ])('refuses %j', (value) => {
    expect(() => checkMediaType(value)).toThrow(InvalidInputError);
  });

  it('allows exactly 255 characters', () => {
    expect(checkMediaType(`application/${'x'.repeat(243)}`)).toHaveLength(255);
  });
});
