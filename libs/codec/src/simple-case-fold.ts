/**
 * Unicode simple case folding (CaseFolding.txt, the mappings of status C and S), code point by code point: the
 * result has as many code points as the input, so `/` stays `/` and segment boundaries stay where they were.
 * Two strings differ only by letter case, in the sense case-insensitive filesystems approximate, exactly when
 * their foldings are equal. Nothing is normalized: fold an NFC string to compare NFC strings.
 *
 * JavaScript has no case-folding function, but its case mappings come from the same Unicode data: for almost
 * every code point the folding is the lowercase of the uppercase. The exceptions are listed below, and
 * simple-case-fold.spec.ts checks the whole result against the engine's own simple case folding (what a `/iu`
 * regular expression compares by, ECMA-262 Canonicalize) for every code point.
 *
 * The data is the running engine's (`process.versions.unicode`). CaseFolding.txt only ever adds mappings, for
 * code points newly given a case; a code point unassigned in this version folds to itself here and may not in
 * a later one.
 */
export function simpleCaseFold(text: string): string {
  if (!NON_ASCII.test(text)) return text.toLowerCase();
  let folded = '';
  for (const character of text) folded += foldCodePoint(character);
  return folded;
}

const NON_ASCII = /[\u0080-\uffff]/;

// Where the lowercase of the uppercase is not the simple case folding.
const EXCEPTIONS = new Map<number, number>([
  // Dotless i: only the Turkic mappings (status T) join it to I, and simple folding leaves them out.
  [0x0131, 0x0131],
  // Added to CaseFolding.txt with status S for stability; their uppercase is more than one code point.
  [0x1fd3, 0x0390],
  [0x1fe3, 0x03b0],
  [0xfb05, 0xfb06],
]);

// Cherokee folds to its uppercase letters (U+13A0–U+13F5), which came first; the lowercase came later.
const CHEROKEE_SMALL_AB70 = [0xab70, 0xabbf, 0x13a0] as const;
const CHEROKEE_SMALL_13F8 = [0x13f8, 0x13fd, 0x13f0] as const;
const CHEROKEE_CAPITALS = [0x13a0, 0x13f5] as const;

function foldCodePoint(character: string): string {
  const codePoint = character.codePointAt(0) ?? 0;
  const exception = EXCEPTIONS.get(codePoint);
  if (exception !== undefined) return String.fromCodePoint(exception);
  for (const [first, last, target] of [CHEROKEE_SMALL_AB70, CHEROKEE_SMALL_13F8]) {
    if (codePoint >= first && codePoint <= last) return String.fromCodePoint(codePoint - first + target);
  }
  if (codePoint >= CHEROKEE_CAPITALS[0] && codePoint <= CHEROKEE_CAPITALS[1]) return character;
  // A single-code-point uppercase is the class's capital; its lowercase is what CaseFolding maps the class to
  // (K, k and KELVIN SIGN → k; Σ, σ and ς → σ; Ǆ, ǅ and ǆ → ǆ; ẞ → ß). Where the uppercase is longer (ß → SS,
  // ᾈ → ἈΙ), simple folding is the code point's own single lowercase, or the code point itself (İ).
  const upper = singleCodePoint(character.toUpperCase());
  const viaUpper = upper === undefined ? undefined : singleCodePoint(upper.toLowerCase());
  return viaUpper ?? singleCodePoint(character.toLowerCase()) ?? character;
}

function singleCodePoint(text: string): string | undefined {
  const first = text.codePointAt(0);
  return first !== undefined && text.length === (first > 0xffff ? 2 : 1) ? text : undefined;
}
