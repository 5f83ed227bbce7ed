import { createHash } from 'node:crypto';
import { formatContentDigest, parseBlake3Header, parseContentDigest } from './content-digest.js';
import { HttpProblem } from './problem.js';

const digest = createHash('sha256').update('hello').digest();
const base64 = digest.toString('base64');

function refusal(parse: () => unknown): HttpProblem {
  try {
    parse();
  } catch (error) {
    if (error instanceof HttpProblem) return error;
    throw error;
  }
  throw new Error('accepted');
}

describe('parseContentDigest', () => {
  it('reads nothing without the header', () => {
    expect(parseContentDigest(undefined)).toBeUndefined();
  });

  it.each([
    [`sha-256=:${base64}:`],
    [`  sha-256=:${base64}:  `],
    [`sha-256=:${base64}:;created=1`],
    [`sha-512=:${Buffer.alloc(64).toString('base64')}:, sha-256=:${base64}:`],
    [`sha-256=:${Buffer.alloc(32).toString('base64')}:, sha-256=:${base64}:`],
  ])('reads the SHA-256 of %j', (header) => {
    expect(parseContentDigest(header)?.equals(digest)).toBe(true);
  });

  it('ignores other algorithms', () => {
    expect(parseContentDigest(`sha-512=:${Buffer.alloc(64).toString('base64')}:`)).toBeUndefined();
    expect(parseContentDigest('unixsum=:AAAA:')).toBeUndefined();
  });

  it.each([
    [''],
    ['sha-256'],
    [`sha-256=${base64}`],
    [`sha-256="${base64}"`],
    [`SHA-256=:${base64}:`],
    ['sha-256=:abc:'],
    ['sha-256=:!!!!:'],
    ['sha-256=:AA=A:'],
    ['sha-256=:A===:'],
    [`sha-256=:${base64}`],
    [`sha-256=:${base64}:, `],
    [`sha-256=:${base64}: sha-512=:AAAA:`],
    [`1sha=:${base64}:`],
  ])('refuses the malformed %j with 400', (header) => {
    const problem = refusal(() => parseContentDigest(header));
    expect(problem.code).toBe('invalid_input');
    expect(problem.extra).toEqual({ field: 'Content-Digest' });
  });

  it.each([[31], [33], [0]])('refuses a sha-256 of %i bytes', (length) => {
    const problem = refusal(() => parseContentDigest(`sha-256=:${Buffer.alloc(length).toString('base64')}:`));
    expect(problem.code).toBe('invalid_input');
    expect(problem.message).toContain('32 bytes');
  });
});

describe('formatContentDigest', () => {
  it('writes sha-256 as a byte sequence that parseContentDigest reads back', () => {
    const header = formatContentDigest(digest.toString('hex'));
    expect(header).toBe(`sha-256=:${base64}:`);
    expect(parseContentDigest(header)?.equals(digest)).toBe(true);
  });
});

describe('parseBlake3Header', () => {
  const hex = 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262';

  it('reads 64 hex digits, in either case, around blanks', () => {
    expect(parseBlake3Header(undefined)).toBeUndefined();
    expect(parseBlake3Header(hex)?.toString('hex')).toBe(hex);
    expect(parseBlake3Header(` ${hex.toUpperCase()} `)?.toString('hex')).toBe(hex);
  });

  it.each([[''], [hex.slice(1)], [`${hex}0`], [`${hex.slice(1)}g`], [`blake3:${hex}`]])(
    'refuses %j with 400',
    (header) => {
      const problem = refusal(() => parseBlake3Header(header));
      expect(problem.code).toBe('invalid_input');
      expect(problem.extra).toEqual({ field: 'X-Content-BLAKE3' });
    },
  );
});
