/**
 * The resource names and entry bundles of c2sp.org/tlog-tiles. A path here is what follows `<prefix>/tile/`:
 * `<L>/<N>[.p/<W>]` for a tile of hashes, `entries/<N>[.p/<W>]` for an entry bundle. Each tile or bundle has exactly
 * one spelling, so a path can serve as a storage key and an immutable URL alike.
 */

/** Levels of the Merkle tree one tile spans: a tile at level L holds hashes of level 8·L subtrees. */
export const TILE_HEIGHT = 8;
/** Hashes in a full tile (2^TILE_HEIGHT); fewer make a partial tile. */
export const TILE_WIDTH = 256;
/** Entries in a full entry bundle, the same as a level-0 tile. */
export const ENTRY_BUNDLE_WIDTH = 256;

/** Thrown for a tile path outside the spec's one spelling, or tile coordinates that have none. */
export class InvalidTilePathError extends Error {
  readonly code = 'invalid_tile_path';
  override readonly name = 'InvalidTilePathError';
}

/** Thrown for an entry bundle that cannot be encoded (entry over 65,535 bytes, too many entries) or decoded. */
export class InvalidEntryBundleError extends Error {
  readonly code = 'invalid_entry_bundle';
  override readonly name = 'InvalidEntryBundleError';
}

/** The coordinates a tile path names; `width` is TILE_WIDTH for a full tile and 1 … 255 for a partial one. */
export type TilePath =
  | { readonly kind: 'hashes'; readonly level: number; readonly index: number; readonly width: number }
  | { readonly kind: 'entries'; readonly index: number; readonly width: number };

const MAX_LEVEL = 63;
const MAX_ENTRY_LENGTH = 0xffff;
/** Six 3-digit elements already exceed 2^53; more could only name an index no number here can hold. */
const MAX_INDEX_ELEMENTS = 6;
const TILE_PATH = /^(entries|0|[1-9][0-9]?)\/((?:x[0-9]{3}\/)*)([0-9]{3})(?:\.p\/([1-9][0-9]{0,2}))?$/;

/** A tile index as path elements: 3 zero-padded digits each, all but the last prefixed `x` (1234067 → x001/x234/067). */
export function formatTileIndex(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidTilePathError(`invalid tile index ${n}`);
  let path = threeDigits(n % 1000);
  for (let rest = Math.floor(n / 1000); rest > 0; rest = Math.floor(rest / 1000)) {
    path = `x${threeDigits(rest % 1000)}/${path}`;
  }
  return path;
}

/**
 * Parses a tile path, accepting exactly what {@link formatTilePath} writes: level 0 … 63 without leading zeros, index
 * elements without a redundant leading `x000`, width 1 … 255 after `.p/`. Anything else is an InvalidTilePathError,
 * so that two paths never name the same tile.
 */
export function parseTilePath(path: string): TilePath {
  const match = TILE_PATH.exec(path);
  const [, head, prefix, last, partial] = match ?? [];
  if (head === undefined || prefix === undefined || last === undefined) {
    throw new InvalidTilePathError(`not a tile path: ${JSON.stringify(path)}`);
  }
  const elements = [...prefix.split('/').filter((element) => element !== ''), last];
  if (elements.length > 1 && elements[0] === 'x000') {
    throw new InvalidTilePathError(`tile index with a redundant leading x000: ${JSON.stringify(path)}`);
  }
  if (elements.length > MAX_INDEX_ELEMENTS) throw new InvalidTilePathError(`tile index too large: ${path}`);
  const index = elements.reduce((sum, element) => sum * 1000 + Number(element.replace('x', '')), 0);
  if (!Number.isSafeInteger(index)) throw new InvalidTilePathError(`tile index too large: ${path}`);
  const width = partial === undefined ? TILE_WIDTH : Number(partial);
  if (partial !== undefined && width >= TILE_WIDTH) {
    throw new InvalidTilePathError(`partial tile width must be 1 to 255: ${path}`);
  }
  if (head === 'entries') return { kind: 'entries', index, width };
  const level = Number(head);
  if (level > MAX_LEVEL) throw new InvalidTilePathError(`tile level must be 0 to 63: ${path}`);
  return { kind: 'hashes', level, index, width };
}

/** The one path of a tile or entry bundle; InvalidTilePathError for coordinates no path can name. */
export function formatTilePath(tile: TilePath): string {
  const { index, width } = tile;
  if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH) {
    throw new InvalidTilePathError(`tile width must be 1 to ${TILE_WIDTH}, got ${width}`);
  }
  let head = 'entries';
  if (tile.kind === 'hashes') {
    if (!Number.isInteger(tile.level) || tile.level < 0 || tile.level > MAX_LEVEL) {
      throw new InvalidTilePathError(`tile level must be 0 to 63, got ${tile.level}`);
    }
    head = String(tile.level);
  }
  const suffix = width === TILE_WIDTH ? '' : `.p/${width}`;
  return `${head}/${formatTileIndex(index)}${suffix}`;
}

/** An entry bundle: each entry prefixed with its length as a big-endian uint16, at most ENTRY_BUNDLE_WIDTH of them. */
export function encodeEntryBundle(entries: readonly Uint8Array[]): Buffer {
  if (entries.length > ENTRY_BUNDLE_WIDTH) {
    throw new InvalidEntryBundleError(
      `an entry bundle holds at most ${ENTRY_BUNDLE_WIDTH} entries, got ${entries.length}`,
    );
  }
  let total = 0;
  for (const entry of entries) {
    if (entry.length > MAX_ENTRY_LENGTH) {
      throw new InvalidEntryBundleError(
        `a log entry is at most ${MAX_ENTRY_LENGTH} bytes, got ${entry.length}`,
      );
    }
    total += 2 + entry.length;
  }
  const bundle = Buffer.alloc(total);
  let offset = 0;
  for (const entry of entries) {
    offset = bundle.writeUInt16BE(entry.length, offset);
    bundle.set(entry, offset);
    offset += entry.length;
  }
  return bundle;
}

/**
 * The entries of an entry bundle, as views into `bytes` (copy them to keep them past `bytes`). A truncated bundle or
 * one of more than ENTRY_BUNDLE_WIDTH entries is an InvalidEntryBundleError; checking the count against the width
 * its path promises is the caller's.
 */
export function decodeEntryBundle(bytes: Uint8Array): Buffer[] {
  const bundle = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const entries: Buffer[] = [];
  let offset = 0;
  while (offset < bundle.length) {
    if (entries.length === ENTRY_BUNDLE_WIDTH) {
      throw new InvalidEntryBundleError(`entry bundle holds more than ${ENTRY_BUNDLE_WIDTH} entries`);
    }
    if (offset + 2 > bundle.length) {
      throw new InvalidEntryBundleError(`entry bundle truncated at byte ${offset}`);
    }
    const end = offset + 2 + bundle.readUInt16BE(offset);
    if (end > bundle.length) {
      throw new InvalidEntryBundleError(`entry bundle truncated in entry ${entries.length}`);
    }
    entries.push(bundle.subarray(offset + 2, end));
    offset = end;
  }
  return entries;
}

function threeDigits(n: number): string {
  return String(n).padStart(3, '0');
}
