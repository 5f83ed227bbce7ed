import { canonicalJson, isUuid, simpleCaseFold, type CborMap, type JsonValue } from '@artifactstore/codec';
import { InvalidInputError, InvalidRelativePathError } from './registry.errors.js';

// The input rules of the registry, each a pure function that returns the accepted value or throws.

export const MAX_LABEL_CODE_POINTS = 256;
export const MAX_METADATA_BYTES = 64 * 1024;
export const MAX_METADATA_DEPTH = 16;
export const MAX_RELATIVE_PATH_BYTES = 1024;
export const MAX_MEDIA_TYPE_LENGTH = 255;
export const DEFAULT_MEDIA_TYPE = 'application/octet-stream';

// Unicode general category Cc: C0 controls, DEL and C1 controls.
const CONTROL = /\p{Cc}/u;

/** name, producer, subject: 1–256 Unicode code points, well-formed, no control characters. */
export function checkLabel(field: string, value: unknown): string {
  if (typeof value !== 'string') throw new InvalidInputError(field, 'must be a string');
  if (!value.isWellFormed()) throw new InvalidInputError(field, 'must not contain a lone surrogate');
  const length = codePointCount(value);
  if (length < 1 || length > MAX_LABEL_CODE_POINTS) {
    throw new InvalidInputError(field, `must be 1 to ${MAX_LABEL_CODE_POINTS} characters, got ${length}`);
  }
  if (CONTROL.test(value)) throw new InvalidInputError(field, 'must not contain control characters');
  return value;
}

const IDEMPOTENCY_KEY = /^[\x20-\x7e]{1,255}$/;

/** An Idempotency-Key: 1–255 printable ASCII characters (space to tilde). */
export function checkIdempotencyKey(value: unknown): string {
  if (typeof value !== 'string' || !IDEMPOTENCY_KEY.test(value)) {
    throw new InvalidInputError('Idempotency-Key', 'must be 1 to 255 printable ASCII characters');
  }
  return value;
}

export const MAX_REASON_CODE_POINTS = 1024;

/** A reason for a deletion or a hold: 0–1024 Unicode code points, well-formed, no control characters; `''` when absent. */
export function checkReason(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new InvalidInputError('reason', 'must be a string');
  if (!value.isWellFormed()) throw new InvalidInputError('reason', 'must not contain a lone surrogate');
  const length = codePointCount(value);
  if (length > MAX_REASON_CODE_POINTS) {
    throw new InvalidInputError(
      'reason',
      `must be at most ${MAX_REASON_CODE_POINTS} characters, got ${length}`,
    );
  }
  if (CONTROL.test(value)) throw new InvalidInputError('reason', 'must not contain control characters');
  return value;
}

function codePointCount(value: string): number {
  // A well-formed string: each surrogate pair is one code point in two code units.
  return value.length - (value.match(/[\ud800-\udbff]/g)?.length ?? 0);
}

/**
 * metadata: a JSON object (default `{}`) nesting at most 16 levels (the object itself is level 1) whose RFC 8785
 * text is at most 64 KiB of UTF-8. Strings must be well-formed and free of U+0000, which PostgreSQL's jsonb cannot
 * store — refusing it everywhere keeps both dialects alike.
 */
export function checkMetadata(value: unknown): CborMap {
  if (value === undefined) return {};
  if (!isPlainObject(value)) throw new InvalidInputError('metadata', 'must be a JSON object');
  checkJsonValue(value, 'metadata', 1);
  const text = canonicalJson(value as JsonValue);
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_METADATA_BYTES) {
    throw new InvalidInputError(
      'metadata',
      `is ${bytes} bytes as JSON; at most ${MAX_METADATA_BYTES} allowed`,
    );
  }
  // A copy of what was checked: the caller's object may change while the event is being written.
  return JSON.parse(text) as CborMap;
}

function checkJsonValue(value: unknown, where: string, depth: number): void {
  switch (typeof value) {
    case 'string':
      checkMetadataString(value, where);
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new InvalidInputError(where, 'must be a finite number');
      return;
    case 'boolean':
      return;
    case 'object': {
      if (value === null) return;
      if (depth > MAX_METADATA_DEPTH) {
        throw new InvalidInputError('metadata', `nests deeper than ${MAX_METADATA_DEPTH} levels`);
      }
      if (Array.isArray(value)) {
        // entries(), not forEach: a sparse array's holes must be refused, not skipped.
        for (const [index, item] of value.entries()) checkJsonValue(item, `${where}[${index}]`, depth + 1);
        return;
      }
      if (!isPlainObject(value)) throw new InvalidInputError(where, 'must be JSON data');
      for (const [key, item] of Object.entries(value)) {
        checkMetadataString(key, `${where} key ${JSON.stringify(key)}`);
        checkJsonValue(item, `${where}.${key}`, depth + 1);
      }
      return;
    }
    default:
      throw new InvalidInputError(where, `must be JSON data, not ${typeof value}`);
  }
}

function checkMetadataString(value: string, where: string): void {
  if (!value.isWellFormed()) throw new InvalidInputError(where, 'must not contain a lone surrogate');
  if (value.includes('\u0000')) throw new InvalidInputError(where, 'must not contain U+0000');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * A file's place in its package, normalized to NFC: 1–1024 bytes of UTF-8, `/`-separated segments, none empty,
 * `.` or `..`, no leading `/`, no backslash, no control characters. Such a path stays inside any directory it is
 * written under, on every common filesystem.
 */
export function normalizeRelativePath(value: unknown): string {
  if (typeof value !== 'string') throw new InvalidRelativePathError(String(value), 'must be a string');
  const refuse = (reason: string): never => {
    throw new InvalidRelativePathError(value, reason);
  };
  if (!value.isWellFormed()) refuse('must be valid Unicode (it has a lone surrogate)');
  const path = value.normalize('NFC');
  const bytes = Buffer.byteLength(path);
  if (bytes < 1) refuse('must not be empty');
  if (bytes > MAX_RELATIVE_PATH_BYTES)
    refuse(`is ${bytes} bytes; at most ${MAX_RELATIVE_PATH_BYTES} allowed`);
  if (path.startsWith('/')) refuse('must not start with /');
  if (path.includes('\\')) refuse('must not contain a backslash');
  if (CONTROL.test(path)) refuse('must not contain control characters');
  for (const segment of path.split('/')) {
    if (segment === '') refuse('must not have an empty segment');
    if (segment === '.' || segment === '..') refuse(`must not have a ${segment} segment`);
  }
  return path;
}

/**
 * Windows device names (Go's golang.org/x/mod/module list), as simple case foldings: a segment whose part
 * before its first dot is one of them (`CON`, `nul.txt`, `Com1.tar.gz`) names a device on Windows, not a file.
 */
const WINDOWS_RESERVED_NAMES: ReadonlySet<string> = new Set([
  'con',
  'prn',
  'aux',
  'nul',
  ...[1, 2, 3, 4, 5, 6, 7, 8, 9].flatMap((n) => [`com${n}`, `lpt${n}`]),
]);

// Bidirectional controls (ALM, LRM, RLM, the embeddings and overrides U+202A–U+202E, the isolates U+2066–U+2069)
// and U+FEFF: invisible, they make a listed name read as another one.
const BIDI_CONTROL_OR_BOM = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/;

/**
 * The portable-path rule (ARTIFACTSTORE_PATH_POLICY=portable), for a path `normalizeRelativePath` accepted: no
 * bidirectional control or byte order mark anywhere; no segment ending in a dot or a space (Windows drops them);
 * no segment that Windows reserves for a device, with or without an extension. Returns the path.
 */
export function checkPortablePath(path: string): string {
  const refuse = (reason: string): never => {
    throw new InvalidRelativePathError(path, `${reason} (portable path rule)`);
  };
  const control = BIDI_CONTROL_OR_BOM.exec(path)?.[0];
  if (control !== undefined) {
    const codePoint = `U+${(control.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
    refuse(
      `must not contain ${codePoint}, ${control === '\ufeff' ? 'a byte order mark' : 'a bidirectional control'}`,
    );
  }
  for (const segment of path.split('/')) {
    if (segment.endsWith('.')) refuse(`segment ${JSON.stringify(segment)} must not end with a dot`);
    if (segment.endsWith(' ')) refuse(`segment ${JSON.stringify(segment)} must not end with a space`);
    const stem = segment.split('.', 1)[0] ?? '';
    if (WINDOWS_RESERVED_NAMES.has(simpleCaseFold(stem))) {
      refuse(`segment ${JSON.stringify(segment)} is a device name on Windows (${stem})`);
    }
  }
  return path;
}

/**
 * Why two paths of one package could not both be written out to a directory, or undefined when they can. One
 * path cannot be both a file and a directory (`a` beside `a/b`); with `foldCase`, neither may two paths, or two
 * of their directories, differ only by Unicode simple case folding (`A.txt` beside `a.txt`, `Dir/x` beside
 * `dir/y`, `Dir` beside `dir/y`), as they would on a case-insensitive filesystem. Equal paths collide too.
 */
export function pathCollision(a: string, b: string, foldCase: boolean): string | undefined {
  const left = a.split('/');
  const right = b.split('/');
  for (let at = 0; at < Math.min(left.length, right.length); at++) {
    const one = left[at] ?? '';
    const other = right[at] ?? '';
    if (one === other) continue;
    if (!foldCase || simpleCaseFold(one) !== simpleCaseFold(other)) return undefined;
    const spelled = (segments: string[]): string => JSON.stringify(segments.slice(0, at + 1).join('/'));
    return `${spelled(left)} and ${spelled(right)} differ only by letter case`;
  }
  return left.length === right.length
    ? 'the same path twice'
    : 'a path cannot be both a file and a directory';
}

export interface PathCollision {
  readonly path: string;
  readonly conflictsWith: string;
  readonly reason: string;
}

/**
 * The first two of `paths` that `pathCollision` refuses, or undefined: one pass, keyed by every path and every
 * directory of one (folded with `foldCase`), so a package of many files costs no more than reading its paths.
 */
export function findPathCollision(paths: Iterable<string>, foldCase: boolean): PathCollision | undefined {
  const seen = new Map<string, { spelling: string; path: string; isFile: boolean }>();
  for (const path of paths) {
    const segments = path.split('/');
    let spelling = '';
    let key = '';
    for (const [at, segment] of segments.entries()) {
      spelling = at === 0 ? segment : `${spelling}/${segment}`;
      key = `${key}/${foldCase ? simpleCaseFold(segment) : segment}`;
      const isFile = at === segments.length - 1;
      const known = seen.get(key);
      if (known === undefined) {
        seen.set(key, { spelling, path, isFile });
      } else if (known.spelling !== spelling || known.isFile || isFile) {
        const reason = pathCollision(path, known.path, foldCase) ?? 'they collide';
        return { path, conflictsWith: known.path, reason };
      }
    }
  }
  return undefined;
}

/** The directories a path lies in: `a/b/c` → `a`, `a/b`. */
export function parentDirectories(path: string): string[] {
  const parents: string[] = [];
  for (let at = path.indexOf('/'); at !== -1; at = path.indexOf('/', at + 1)) parents.push(path.slice(0, at));
  return parents;
}

// RFC 9110 §8.3.1: type "/" subtype *( OWS ";" OWS [ parameter ] ), parameter = token "=" ( token / quoted-string ).
const TOKEN = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
const QUOTED = '"(?:[\\t \\x21\\x23-\\x5b\\x5d-\\x7e\\x80-\\xff]|\\\\[\\t \\x21-\\x7e\\x80-\\xff])*"';
const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}(?:[ \\t]*;[ \\t]*(?:${TOKEN}=(?:${TOKEN}|${QUOTED}))?)*$`);

/**
 * Text bound into SQL as a filter or a lookup key: well-formed, without control characters (PostgreSQL refuses
 * U+0000 where SQLite would just not match, and the dialects must answer alike), at most 1024 characters.
 */
export function checkFilterText(field: string, value: unknown): string {
  if (typeof value !== 'string') throw new InvalidInputError(field, 'must be a string');
  if (!value.isWellFormed()) throw new InvalidInputError(field, 'must not contain a lone surrogate');
  if (CONTROL.test(value)) throw new InvalidInputError(field, 'must not contain control characters');
  if (value.length > 1024) throw new InvalidInputError(field, 'must be at most 1024 characters');
  return value;
}

const CONTENT_ADDRESS = /^blake3:[0-9a-f]{64}$/;

export function checkId(field: string, value: unknown): string {
  if (typeof value !== 'string' || !isUuid(value)) {
    throw new InvalidInputError(field, 'must be a lowercase hyphenated UUID');
  }
  return value;
}

export function checkContentAddress(value: unknown): string {
  if (typeof value !== 'string' || !CONTENT_ADDRESS.test(value)) {
    throw new InvalidInputError('content_address', 'must be blake3: followed by 64 lowercase hex digits');
  }
  return value;
}

export function checkSequence(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidInputError('since', 'must be a non-negative integer');
  }
  return value;
}

/** A media type as RFC 9110 spells one, at most 255 characters, kept exactly as given (default octet-stream). */
export function checkMediaType(value: unknown): string {
  if (value === undefined) return DEFAULT_MEDIA_TYPE;
  if (typeof value !== 'string') throw new InvalidInputError('media_type', 'must be a string');
  if (value.length > MAX_MEDIA_TYPE_LENGTH) {
    throw new InvalidInputError('media_type', `must be at most ${MAX_MEDIA_TYPE_LENGTH} characters`);
  }
  if (!MEDIA_TYPE.test(value)) {
    throw new InvalidInputError('media_type', `${JSON.stringify(value)} is not a type/subtype media type`);
  }
  return value;
}
