import { HttpProblem } from './problem.js';
import type { ManifestFormat } from '@artifactstore/registry';

interface MediaRange {
  readonly type: string;
  readonly subtype: string;
  readonly q: number;
}

function parseAccept(header: string): MediaRange[] {
  return header
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const [range = '', ...params] = part.split(';').map((piece) => piece.trim());
      const [type = '', subtype = ''] = range.toLowerCase().split('/');
      const qParam = params.find((param) => /^q\s*=/i.test(param));
      const q = qParam === undefined ? 1 : Number(qParam.split('=')[1]);
      return { type, subtype, q: Number.isFinite(q) ? q : 0 };
    });
}

/** How well `accept` takes `type/subtype`: the q of the most specific matching range (RFC 9110 §12.5.1). */
function quality(ranges: readonly MediaRange[], type: string, subtype: string): number {
  let best: { specificity: number; q: number } | undefined;
  for (const range of ranges) {
    const specificity =
      range.type === type && range.subtype === subtype
        ? 2
        : range.type === type && range.subtype === '*'
          ? 1
          : range.type === '*' && range.subtype === '*'
            ? 0
            : -1;
    if (specificity >= 0 && (best === undefined || specificity > best.specificity))
      best = { specificity, q: range.q };
  }
  return best?.q ?? 0;
}

/**
 * The manifest's form: `?format=` wins; otherwise Accept chooses, CBOR being the default (no Accept, or `*\/*`)
 * and the winner of ties. Nothing acceptable: 406.
 */
export function manifestFormat(accept: string | undefined, format: unknown): ManifestFormat {
  if (format !== undefined) {
    if (format === 'cbor' || format === 'json') return format;
    throw new HttpProblem('invalid_input', 'format must be cbor or json', {}, { field: 'format' });
  }
  if (accept === undefined || accept.trim() === '') return 'cbor';
  const ranges = parseAccept(accept);
  const cbor = quality(ranges, 'application', 'cbor');
  const json = quality(ranges, 'application', 'json');
  if (cbor === 0 && json === 0) {
    throw new HttpProblem('not_acceptable', 'manifests are served as application/cbor or application/json');
  }
  return json > cbor ? 'json' : 'cbor';
}
