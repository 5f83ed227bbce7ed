import { manifestFormat } from './negotiation.js';
import { HttpProblem } from './problem.js';

function refusal(accept: string | undefined, format?: unknown): HttpProblem {
  try {
    manifestFormat(accept, format);
  } catch (error) {
    if (error instanceof HttpProblem) return error;
    throw error;
  }
  throw new Error(`accepted ${JSON.stringify(accept)} / ${JSON.stringify(format)}`);
}

describe('manifestFormat', () => {
  it.each([
    ['no Accept', undefined],
    ['an empty Accept', ''],
    ['*/*', '*/*'],
    ['application/*', 'application/*'],
    ['application/cbor', 'application/cbor'],
    ['a tie', 'application/json, application/cbor'],
    ['a tie by q', 'application/json;q=0.5, application/cbor;q=0.5'],
    ['a higher q for CBOR', 'application/json;q=0.4, application/cbor;q=0.5'],
    ['JSON refused outright', 'application/json;q=0, */*'],
    ['a wildcard above a specific JSON', '*/*;q=0.5, application/json;q=0.1'],
  ])('serves CBOR for %s', (_what, accept) => {
    expect(manifestFormat(accept, undefined)).toBe('cbor');
  });

  it.each([
    ['application/json', 'application/json'],
    ['JSON in capitals', 'APPLICATION/JSON'],
    ['JSON with a charset', 'application/json; charset=utf-8'],
    ['a higher q for JSON', 'application/json;q=0.9, application/cbor;q=0.8'],
    ['Q in capitals, spaced', 'application/json; Q = 0.9, application/cbor;q=0.8'],
    ['CBOR refused outright', 'application/cbor;q=0, application/*'],
    ['the most specific range winning', 'application/*;q=0.1, application/json;q=0.2, */*;q=1'],
    ['a browser-like list', 'text/html, application/xhtml+xml, application/json;q=0.9, */*;q=0.8'],
  ])('serves JSON for %s', (_what, accept) => {
    expect(manifestFormat(accept, undefined)).toBe('json');
  });

  it.each([
    ['text/html'],
    ['*/*;q=0'],
    ['application/json;q=0, application/cbor;q=0'],
    ['application/*;q=0'],
    ['application/json;q=zero'],
    ['*/json'],
  ])('refuses %j with 406 not_acceptable', (accept) => {
    expect(refusal(accept).code).toBe('not_acceptable');
  });

  it('lets ?format win over Accept', () => {
    expect(manifestFormat('application/cbor', 'json')).toBe('json');
    expect(manifestFormat('application/json', 'cbor')).toBe('cbor');
    expect(manifestFormat('text/html', 'json')).toBe('json');
  });

  it.each([['xml'], [''], ['JSON'], [['json', 'cbor']]])('refuses format=%j with 400', (format) => {
    const problem = refusal(undefined, format);
    expect(problem.code).toBe('invalid_input');
    expect(problem.extra).toEqual({ field: 'format' });
  });
});
