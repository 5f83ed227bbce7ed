/**
 * One member of an entity-tag list: blanks, an optional `W/` and a quoted opaque tag with blanks after it, then `,`
 * or the end. Blanks after a tag only: two optional runs of blanks side by side would backtrack quadratically.
 */
const LIST_MEMBER = /[\t ]*(?:(?:W\/)?("[^"]*")[\t ]*)?(,|$)/y;

/** The opaque tags of an `If-None-Match` list, or undefined when the header is not such a list. */
function entityTags(header: string): string[] | undefined {
  const tags: string[] = [];
  LIST_MEMBER.lastIndex = 0;
  for (;;) {
    const member = LIST_MEMBER.exec(header);
    if (!member) return undefined;
    if (member[1] !== undefined) tags.push(member[1]);
    if (member[2] === '') return tags;
  }
}

/**
 * Whether an `If-None-Match` list matches `etag` (RFC 9110 §13.1.2: weak comparison, `*` matches anything). A
 * header that is not a list of entity tags (`W/ "x"`, a bare word, `*` among tags) matches nothing, as if absent.
 */
export function ifNoneMatchHits(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  const opaque = etag.replace(/^W\//, '');
  return (entityTags(header) ?? []).includes(opaque);
}

/** Whether an `If-Range` validator still names this representation (strong comparison; dates are not used). */
export function ifRangeHolds(header: string | undefined, etag: string): boolean {
  return header === undefined || header.trim() === etag;
}
