import fc from 'fast-check';
import type { FormPart } from './multipart-form.js';
import type { RawHeader } from './raw-http.js';

/**
 * fast-check arbitraries for hostile HTTP input: strings, JSON, raw-byte paths, header values, query strings and
 * multipart parts, mixing plausible values (so the request gets past the first check) with the kinds of bytes
 * that break parsers: control characters, lone surrogates, invalid and overlong UTF-8, huge and deep values.
 */

/** Texts a field may meet: Unicode of every plane, lone surrogates, control and format characters, huge ones. */
export const hostileText: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    '\u0007bell',
    'line\nbreak',
    '\u202eevil',
    '\ufeffbom',
    'é',
    'e\u0301',
    '😀',
    '\ud800',
    '\udfff\ud800',
    '..',
    '../../etc/passwd',
    'a'.repeat(256),
    'a'.repeat(257),
    '😀'.repeat(256),
    'x'.repeat(70_000),
    'null',
    '0',
    '-1',
    'standard',
    'STANDARD',
    ' standard',
    '__proto__',
  ),
);

/** Any JSON value, shallow, with hostile strings. */
export const hostileJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  hostileText,
  fc.constantFrom(null, true, 0, -0, 1.5, 2 ** 53, -(2 ** 63), 1e308, [], {}),
);

/** Metadata: an object most of the time (sometimes deeper than the 16 levels allowed), else any JSON. */
const metadata: fc.Arbitrary<unknown> = fc.oneof(
  fc.dictionary(hostileText, hostileJson, { maxKeys: 5 }),
  fc.integer({ min: 14, max: 40 }).map((depth) => nested(depth)),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
  hostileJson,
);

function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let level = 0; level < depth; level++) value = level % 2 ? [value] : { n: value };
  return value;
}

const CREATE_FIELDS = ['name', 'producer', 'subject', 'retention_class', 'metadata'] as const;

const validCreate = fc.record({
  name: fc.stringMatching(/^[a-z][a-z0-9-]{0,11}$/),
  producer: fc.constantFrom('ci', 'faults'),
  subject: fc.stringMatching(/^git:[0-9a-f]{7}$/),
  retention_class: fc.constant('standard'),
});

/** JSON bodies for POST /v1/packages: valid but for one field, any mix of fields, or not an object at all. */
export const createBody: fc.Arbitrary<unknown> = fc.oneof(
  validCreate,
  fc
    .tuple(
      validCreate,
      fc.constantFrom(...CREATE_FIELDS, 'unknown', '__proto__', 'constructor', ''),
      hostileJson,
    )
    .map(([base, key, value]) => ({ ...base, [key]: value })),
  fc.tuple(validCreate, metadata).map(([base, value]) => ({ ...base, metadata: value })),
  fc.record(
    {
      name: hostileJson,
      producer: hostileJson,
      subject: hostileJson,
      retention_class: hostileJson,
      metadata,
    },
    { requiredKeys: [] },
  ),
  hostileJson,
);

/** Raw bodies sent as JSON: bytes that are not JSON, invalid UTF-8, huge and deeply nested texts. */
export const rawJsonBody: fc.Arbitrary<Buffer> = fc.oneof(
  fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
  fc
    .integer({ min: 100, max: 20_000 })
    .map((depth) =>
      Buffer.from(
        `{"name":"a","producer":"b","subject":"c","retention_class":"standard","metadata":` +
          `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`,
      ),
    ),
  fc
    .integer({ min: 100, max: 20_000 })
    .map((depth) => Buffer.from(`${'['.repeat(depth)}${']'.repeat(depth)}`)),
  fc.constantFrom(
    Buffer.from(`{"name":"${'a'.repeat(1_100_000)}"}`),
    Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xff, 0xfe, 0xc0, 0xae]), Buffer.from('"}')]),
    Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"name":"bom"}')]),
    Buffer.from('{"metadata":{"n":1e400}}'),
    Buffer.from('{"metadata":{"n":NaN}}'),
    Buffer.from('{"name":"a","name":"b"}'),
    Buffer.from('{"__proto__":{"polluted":true}}'),
    Buffer.from('{"metadata":{"__proto__":{"polluted":true}}}'),
    Buffer.from('{"metadata":{"k":"\\u0000"}}'),
    Buffer.from('{"metadata":{"k":"\\ud800"}}'),
    Buffer.from('null'),
    Buffer.from('"text"'),
    Buffer.from('[]'),
    Buffer.from(''),
    Buffer.from('{'),
  ),
);

/** Content-Type values for a JSON POST. */
export const jsonContentType: fc.Arbitrary<string> = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'application/json; charset=bogus',
  'APPLICATION/JSON',
  'application/merge-patch+json',
  'application/json;;',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  '',
);

/** Content-Encoding values, the body left as it is (so a claimed gzip is not gzip). */
export const contentEncoding: fc.Arbitrary<string | undefined> = fc.constantFrom(
  undefined,
  undefined,
  'identity',
  'gzip',
  'deflate',
  'br',
  'zstd',
  'bogus',
);

function percentEncoded(bytes: Uint8Array): string {
  return [...bytes].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join('');
}

/** Characters the request line may carry as they are (RFC 9112 lets through every visible ASCII character). */
const URL_BYTES = Array.from({ length: 0x7e - 0x21 + 1 }, (_, index) => 0x21 + index).filter(
  (byte) => byte !== 0x2f, // '/' separates segments; it comes from the join
);

/** Bytes Node's HTTP parser refuses in a request target: controls, space, DEL and every byte above 0x7f. */
const PARSER_REFUSED_BYTES = [
  ...Array.from({ length: 0x21 }, (_, index) => index),
  0x7f,
  ...Array.from({ length: 0x80 }, (_, index) => 0x80 + index),
];

/** One path segment, as raw bytes for the request target: every byte is one the HTTP parser passes through. */
const segment: fc.Arbitrary<Buffer> = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9._~-]{1,12}$/).map((text) => Buffer.from(text)),
  fc.uint8Array({ minLength: 1, maxLength: 6 }).map((bytes) => Buffer.from(percentEncoded(bytes))),
  fc.array(fc.constantFrom(...URL_BYTES), { minLength: 1, maxLength: 8 }).map((bytes) => Buffer.from(bytes)),
  fc
    .constantFrom(
      '..',
      '.',
      '',
      '%2e%2e',
      '%2E%2E',
      '.%2e',
      '%2f',
      '%2F..%2F',
      '%5c',
      '%00',
      '%c0%ae%c0%ae',
      '%c0%af',
      '%e0%80%ae',
      '%ff',
      '%fe%ff',
      '%e2%80%ae',
      '%ef%bb%bf',
      '%ed%a0%80',
      '%f4%90%80%80',
      'e%CC%81',
      '%C3%A9',
      'CON',
      'nul',
      'a'.repeat(300),
      '%',
      '%z',
      '%%41',
      '~',
      ';a=b',
      ':',
      '@',
      "!$&'()*+,;=",
    )
    .map((text) => Buffer.from(text)),
);

/** A relative path in a request target: 1–6 segments joined by `/`, sometimes with a leading or doubled slash. */
export const rawPath: fc.Arbitrary<Buffer> = fc
  .tuple(
    fc.array(segment, { minLength: 1, maxLength: 6 }),
    fc.constantFrom('/', '/', '/', '//'),
    fc.boolean(),
  )
  .map(([segments, separator, leading]) => {
    const joined = Buffer.concat(
      segments.flatMap((part, index) => (index ? [Buffer.from(separator), part] : [part])),
    );
    return leading ? Buffer.concat([Buffer.from('/'), joined]) : joined;
  });

/** A path like rawPath with at least one byte the HTTP parser refuses, somewhere in it. */
export const parserRefusedPath: fc.Arbitrary<Buffer> = fc
  .tuple(rawPath, fc.constantFrom(...PARSER_REFUSED_BYTES), fc.nat())
  .map(([path, byte, at]) => {
    const position = at % (path.length + 1);
    return Buffer.concat([path.subarray(0, position), Buffer.from([byte]), path.subarray(position)]);
  });

/**
 * Requests that Node's HTTP layer answers by itself, before any route runs: bytes it refuses in the target, a
 * request line or header past its 16 KiB limit, a malformed header name, conflicting lengths, an Expect it does
 * not know. `target` goes after `/v1/packages/{id}/files/` of a PUT; `what` names the case for the report.
 */
export interface HttpLayerCase {
  readonly what: string;
  readonly target: Buffer;
  readonly headers: readonly RawHeader[];
  readonly contentLength: boolean;
  /** The body; one byte when not given. */
  readonly body?: Buffer;
}

const file = Buffer.from('f.bin');

/** One example of every kind of request Node's HTTP layer refuses or answers before the app sees it. */
export const HTTP_LAYER_EXAMPLES: readonly HttpLayerCase[] = [
  { what: 'NUL in the path', target: Buffer.from('a\u0000b'), headers: [], contentLength: true },
  { what: 'space in the path', target: Buffer.from('a b'), headers: [], contentLength: true },
  { what: 'DEL in the path', target: Buffer.from('a\u007fb'), headers: [], contentLength: true },
  { what: 'raw UTF-8 in the path', target: Buffer.from('é.bin'), headers: [], contentLength: true },
  {
    what: 'request line over 16 KiB',
    target: Buffer.from('a'.repeat(17 * 1024)),
    headers: [],
    contentLength: true,
  },
  {
    what: 'header over 16 KiB',
    target: file,
    headers: [['X-Padding', 'p'.repeat(17 * 1024)]],
    contentLength: true,
  },
  { what: 'malformed header name', target: file, headers: [['Bad Name', 'x']], contentLength: true },
  {
    what: 'control character in a header value',
    target: file,
    headers: [['X-Note', 'a\u0001b']],
    contentLength: true,
  },
  {
    what: 'malformed Content-Length',
    target: file,
    headers: [['Content-Length', 'x']],
    contentLength: false,
  },
  {
    what: 'two different Content-Lengths',
    target: file,
    headers: [
      ['Content-Length', '1'],
      ['Content-Length', '2'],
    ],
    contentLength: false,
  },
  {
    what: 'Content-Length with Transfer-Encoding',
    target: file,
    headers: [
      ['Content-Length', '1'],
      ['Transfer-Encoding', 'chunked'],
    ],
    contentLength: false,
  },
  {
    what: 'malformed chunked body',
    target: file,
    headers: [['Transfer-Encoding', 'chunked']],
    contentLength: false,
    body: Buffer.from('5\r\nhello\r\nZZ\r\nxx\r\n0\r\n\r\n'),
  },
  { what: 'unknown Expect', target: file, headers: [['Expect', 'bogus']], contentLength: true },
];

/** The examples above, and generated variants: any refused byte anywhere in a path, heads of any size past 16 KiB. */
export const httpLayerRefusal: fc.Arbitrary<HttpLayerCase> = fc.oneof<fc.Arbitrary<HttpLayerCase>[]>(
  fc.constantFrom(...HTTP_LAYER_EXAMPLES),
  parserRefusedPath.map((path) => ({
    what: 'refused byte in the path',
    target: path,
    headers: [],
    contentLength: true,
  })),
  fc.integer({ min: 17, max: 40 }).map((kib) => ({
    what: 'request line over 16 KiB',
    target: Buffer.from('a'.repeat(kib * 1024)),
    headers: [],
    contentLength: true,
  })),
  fc.integer({ min: 17, max: 40 }).map((kib) => ({
    what: 'header over 16 KiB',
    target: file,
    headers: [['X-Padding', 'p'.repeat(kib * 1024)]],
    contentLength: true,
  })),
  fc.constantFrom('Bad\u0001Name', 'Bad(Name)', ':', 'Bad"Name').map((name) => ({
    what: 'malformed header name',
    target: file,
    headers: [[name, 'x']],
    contentLength: true,
  })),
  fc.constantFrom('1, 2', '-1', '1 1').map((value) => ({
    what: 'malformed Content-Length',
    target: file,
    headers: [['Content-Length', value]],
    contentLength: false,
  })),
  fc.constantFrom('100-continue, bogus', '200-ok').map((value) => ({
    what: 'unknown Expect',
    target: file,
    headers: [['Expect', value]],
    contentLength: true,
  })),
);

/** Header values: visible ASCII and Latin-1 bytes (the parser allows 0x80–0xff in values), tabs, plausible forms. */
export function headerValue(plausible: readonly string[]): fc.Arbitrary<Buffer> {
  return fc.oneof(
    fc.constantFrom(...plausible).map((text) => Buffer.from(text)),
    fc
      .array(
        fc.oneof(
          fc.integer({ min: 0x20, max: 0x7e }),
          fc.integer({ min: 0x80, max: 0xff }),
          fc.constant(0x09),
        ),
        {
          maxLength: 40,
        },
      )
      .map((bytes) => Buffer.from(bytes)),
    fc.string({ maxLength: 30 }).map((text) => Buffer.from(text.replace(/[\r\n\0]/g, ''), 'latin1')),
  );
}

/** Media types, well-formed and not. */
export const mediaType: fc.Arbitrary<string> = fc.constantFrom(
  'application/octet-stream',
  'text/plain; charset=utf-8',
  'a/b; c="d\\"e"',
  'x',
  '/',
  'a/',
  'a/b;',
  `a/b; p=${'x'.repeat(300)}`,
  'multipart/form-data',
  'application/json',
  'text/plain; charset="unterminated',
);

/** Query-string values for the list endpoints. */
export const queryValue: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '',
    '0',
    '1',
    '-1',
    '1000',
    '1001',
    '1.5',
    '1e3',
    '0x10',
    '%201',
    '9007199254740993',
    '99999999999999999999999',
    'created',
    'finalized',
    'CREATED',
    'null',
    '%00',
    '%ff',
    '%c0%ae',
    '%ed%a0%80',
    '%',
    '%zz',
    'a+b',
    'a%2Bb',
    'eyJ4IjoxfQ',
    'AAAA',
    '..%2F..',
  ),
  fc.uint8Array({ maxLength: 12 }).map((bytes) => percentEncoded(bytes)),
  fc
    .array(fc.constantFrom(...URL_BYTES.filter((byte) => byte !== 0x26 && byte !== 0x23)), { maxLength: 12 })
    .map((bytes) => Buffer.from(bytes).toString('latin1')),
);

/** A query string over `names` (known ones and strangers), names repeated, `[]` and empty pairs included. */
export function queryString(names: readonly string[]): fc.Arbitrary<string> {
  const name = fc.oneof(
    fc.constantFrom(...names),
    fc.constantFrom(...names).map((known) => `${known}[]`),
    fc.constantFrom('', 'unknown', '__proto__', 'constructor', 'a[b]', '%6cimit', 'LIMIT'),
  );
  return fc
    .array(
      fc.oneof(
        fc.tuple(name, queryValue).map(([key, value]) => `${key}=${value}`),
        name,
      ),
      { maxLength: 5 },
    )
    .map((pairs) => pairs.join('&'));
}

/** A multipart form: the expected parts most of the time, with hostile names, filenames, types and extras. */
export const formParts: fc.Arbitrary<FormPart[]> = fc
  .array(
    fc.record({
      name: fc.oneof(
        fc.constantFrom('file', 'file', 'relative_path', 'media_type', 'other', '', 'file[]'),
        hostileText.map((text) => text.slice(0, 40)),
      ),
      filename: fc.option(
        fc.oneof(
          fc.constantFrom(
            'f.bin',
            '../up.bin',
            'a/b/c.bin',
            '',
            '.',
            '..',
            'é.bin',
            'e\u0301.bin',
            'a\\b.bin',
          ),
          hostileText.map((text) => text.slice(0, 40)),
        ),
        { nil: undefined },
      ),
      contentType: fc.option(mediaType, { nil: undefined }),
      data: fc.oneof(
        fc.uint8Array({ maxLength: 2048 }).map((bytes) => Buffer.from(bytes)),
        rawPath,
        hostileText.map((text) => Buffer.from(text)),
      ),
    }),
    { maxLength: 4 },
  )
  .map((parts) =>
    parts.map((part) => ({
      name: part.name.replace(/["\r\n]/g, ''),
      data: part.data,
      ...(part.filename === undefined ? {} : { filename: part.filename.replace(/["\r\n]/g, '') }),
      ...(part.contentType === undefined ? {} : { contentType: part.contentType }),
    })),
  );
