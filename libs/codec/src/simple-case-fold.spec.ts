import { simpleCaseFold } from './simple-case-fold.js';

const hex = (text: string): string =>
  Array.from(text, (c) => `U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`).join(
    ' ',
  );
const escaped = (character: string): string => `\\u{${(character.codePointAt(0) ?? 0).toString(16)}}`;

function everyCodePoint(): string[] {
  const all: string[] = [];
  for (let codePoint = 0; codePoint <= 0x10ffff; codePoint++) {
    if (codePoint < 0xd800 || codePoint > 0xdfff) all.push(String.fromCodePoint(codePoint));
  }
  return all;
}

describe('simpleCaseFold', () => {
  it.each([
    ['ASCII letters', 'Dir/README.Md', 'dir/readme.md'],
    ['Latin-1', 'ÀÉÎÕÜ', 'àéîõü'],
    ['KELVIN SIGN with K and k', '\u212a', 'k'],
    ['LATIN SMALL LETTER LONG S with S and s', '\u017f', 's'],
    ['final sigma with Σ and σ', 'ς', 'σ'],
    ['capital sharp s with ß (simple, not full: no ss)', 'ẞ', 'ß'],
    ['ß itself', 'ß', 'ß'],
    ['OHM SIGN with Ω and ω', '\u2126', 'ω'],
    ['ANGSTROM SIGN with Å and å', '\u212b', 'å'],
    ['titlecase ǅ with Ǆ and ǆ', 'ǅǄ', 'ǆǆ'],
    ['İ, which has only full and Turkic mappings', 'İ', 'İ'],
    ['ı, which has only a Turkic mapping', 'ı', 'ı'],
    ['Greek with prosgegrammeni (full folding would grow)', 'ᾈ', 'ᾀ'],
    ['COMBINING GREEK YPOGEGRAMMENI and GREEK PROSGEGRAMMENI', '\u0345\u1fbe', 'ιι'],
    ['ΐ in its compatibility spelling (status S)', '\u1fd3', '\u0390'],
    ['ﬅ (status S)', '\ufb05', '\ufb06'],
    ['Cherokee, which folds to its capitals', '\uab70\u13f8\u13a0', '\u13a0\u13f0\u13a0'],
    ['Deseret, beyond the BMP', '𐐀𐐨', '𐐨𐐨'],
    ['digits, punctuation, CJK and emoji', '1-_.~ 漢字😀', '1-_.~ 漢字😀'],
  ])('folds %s', (_what, input, folded) => {
    expect(hex(simpleCaseFold(input))).toBe(hex(folded));
  });

  it('keeps the number of code points, and the slashes where they were', () => {
    const path = 'Ǆ/\u212a/ß/ẞ/😀/Ω';
    const folded = simpleCaseFold(path);
    expect(Array.from(folded)).toHaveLength(Array.from(path).length);
    expect(folded.split('/')).toHaveLength(path.split('/').length);
  });

  /**
   * ECMA-262 defines a `/iu` match by CaseFolding.txt's simple and common mappings (Canonicalize), so the engine's
   * regular expressions are an independent oracle of which code points fold alike. Every code point in a class of
   * more than one changes under some case mapping (\p{CWCM}); the classes are checked among those, and every
   * other code point is checked to be alone in its class and to fold to itself.
   */
  it('puts two code points in one class exactly when a /iu regular expression takes one for the other', () => {
    const all = everyCodePoint();
    const cased = all.filter((c) => /\p{CWCM}/u.test(c));
    const problems: string[] = [];
    for (const c of cased) {
      const folded = simpleCaseFold(c);
      if (!new RegExp(`^${escaped(c)}$`, 'iu').test(folded)) {
        problems.push(`${hex(c)} folds outside its class, to ${hex(folded)}`);
      }
      if (simpleCaseFold(folded) !== folded) {
        problems.push(`${hex(c)} folds to ${hex(folded)}, which folds on`);
      }
    }
    // One alternative per folding: the first alternative a code point matches must be its own folding. Were two
    // foldings in one class, the later one would match the earlier alternative first.
    const foldings = [...new Set(cased.map(simpleCaseFold))];
    const index = new Map(foldings.map((folded, at) => [folded, at]));
    const anyFolding = new RegExp(
      `^(?:${foldings.map((folded) => `(${escaped(folded)})`).join('|')})$`,
      'iu',
    );
    for (const c of cased) {
      const match = anyFolding.exec(c);
      // The group that matched holds the code point itself; the others are unset.
      const first = match ? match.indexOf(c, 1) - 1 : -1;
      if (first !== index.get(simpleCaseFold(c))) {
        problems.push(
          `${hex(c)} matches alternative ${first} first, not its folding ${hex(simpleCaseFold(c))}`,
        );
      }
    }
    const anyCased = new RegExp(`^[${cased.map(escaped).join('')}]$`, 'iu');
    for (const c of all) {
      if (/\p{CWCM}/u.test(c)) continue;
      if (anyCased.test(c)) problems.push(`${hex(c)} folds like a cased code point`);
      if (simpleCaseFold(c) !== c)
        problems.push(`${hex(c)} is caseless but folds to ${hex(simpleCaseFold(c))}`);
    }
    expect(problems).toEqual([]);
  });
});
