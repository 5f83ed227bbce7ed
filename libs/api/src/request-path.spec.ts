import type { ApiRequest } from './principal.js';
import { HttpProblem } from './problem.js';
import { relativePathOf } from './request-path.js';

const ID = '01890a5d-ac96-774b-bcce-b302099a8057';
const pathOf = (url: string): string => relativePathOf({ originalUrl: url } as ApiRequest);

function refusal(url: string): HttpProblem {
  try {
    pathOf(url);
  } catch (error) {
    if (error instanceof HttpProblem) return error;
    throw error;
  }
  throw new Error(`accepted ${url}`);
}

describe('relativePathOf', () => {
  it.each([
    ['a.txt', 'a.txt'],
    ['dir/sub/a.txt', 'dir/sub/a.txt'],
    ['dir%2Fa.txt', 'dir/a.txt'],
    ['dir%2fa.txt', 'dir/a.txt'],
    ['a%20b.txt', 'a b.txt'],
    ['100%25.txt', '100%.txt'],
    ['why%3F.txt', 'why?.txt'],
    ['r%C3%A9sum%C3%A9.txt', 'résumé.txt'],
    ['files/a.txt', 'files/a.txt'],
    ['', ''],
  ])('reads %j as %j', (raw, expected) => {
    expect(pathOf(`/v1/packages/${ID}/files/${raw}`)).toBe(expected);
  });

  it('leaves the query string out', () => {
    expect(pathOf(`/v1/packages/${ID}/files/a.txt?x=1&y=%2F`)).toBe('a.txt');
  });

  it("keeps what the registry must judge: dot segments and empty segments are the registry's to refuse", () => {
    expect(pathOf(`/v1/packages/${ID}/files/a/../b`)).toBe('a/../b');
    expect(pathOf(`/v1/packages/${ID}/files/a%2F..%2Fb`)).toBe('a/../b');
    expect(pathOf(`/v1/packages/${ID}/files/a//b`)).toBe('a//b');
  });

  it('reads the path after the package id, whatever the id is', () => {
    expect(pathOf('/v1/packages/files/files/a.txt')).toBe('a.txt');
  });

  it.each([['%'], ['%zz'], ['a%2'], ['%E0%A4%A'], ['%FF'], ['%C3%28']])(
    'refuses the malformed percent-encoding %j with 400',
    (raw) => {
      const problem = refusal(`/v1/packages/${ID}/files/${raw}`);
      expect(problem.code).toBe('invalid_input');
      expect(problem.extra).toEqual({ field: 'relative_path' });
    },
  );

  it('refuses a URL without a relative path', () => {
    expect(refusal(`/v1/packages/${ID}`).code).toBe('invalid_input');
  });
});
