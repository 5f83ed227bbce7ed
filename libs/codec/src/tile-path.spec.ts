import { randomBytes } from 'node:crypto';
import {
  ENTRY_BUNDLE_WIDTH,
  InvalidEntryBundleError,
  InvalidTilePathError,
  TILE_HEIGHT,
  TILE_WIDTH,
  decodeEntryBundle,
  encodeEntryBundle,
  formatTileIndex,
  formatTilePath,
  parseTilePath,
  type TilePath,
} from './index.js';

function thrownBy(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

/** The tiles c2sp.org/tlog-tiles says a tree of `size` leaves is served as, level by level. */
function tilesOfTree(size: number): TilePath[] {
  const tiles: TilePath[] = [];
  for (let level = 0; TILE_WIDTH ** level <= size; level += 1) {
    const hashes = Math.floor(size / TILE_WIDTH ** level);
    for (let index = 0; index < Math.floor(hashes / TILE_WIDTH); index += 1) {
      tiles.push({ kind: 'hashes', level, index, width: TILE_WIDTH });
    }
    if (hashes % TILE_WIDTH > 0) {
      tiles.push({
        kind: 'hashes',
        level,
        index: Math.floor(hashes / TILE_WIDTH),
        width: hashes % TILE_WIDTH,
      });
    }
  }
  return tiles;
}

describe('tile indexes', () => {
  it.each([
    [0, '000'],
    [7, '007'],
    [999, '999'],
    [1000, 'x001/000'],
    [1067, 'x001/067'],
    [1_234_067, 'x001/x234/067'],
    [1_000_000, 'x001/x000/000'],
    [Number.MAX_SAFE_INTEGER, 'x009/x007/x199/x254/x740/991'],
  ])('spells %i as %s', (index, path) => {
    expect(formatTileIndex(index)).toBe(path);
  });

  it('refuses indexes that are not non-negative safe integers', () => {
    for (const index of [-1, 1.5, Number.NaN, 2 ** 53, Number.POSITIVE_INFINITY]) {
      expect(() => formatTileIndex(index)).toThrow(InvalidTilePathError);
    }
  });
});

describe('tile paths', () => {
  it('has the constants of the spec', () => {
    expect([TILE_HEIGHT, TILE_WIDTH, ENTRY_BUNDLE_WIDTH]).toEqual([8, 2 ** TILE_HEIGHT, 256]);
  });

  it.each<[string, TilePath]>([
    ['0/x001/x234/067', { kind: 'hashes', level: 0, index: 1_234_067, width: 256 }],
    ['2/000.p/5', { kind: 'hashes', level: 2, index: 0, width: 5 }],
    ['entries/x001/067.p/255', { kind: 'entries', index: 1067, width: 255 }],
    ['entries/000', { kind: 'entries', index: 0, width: 256 }],
    ['63/999.p/1', { kind: 'hashes', level: 63, index: 999, width: 1 }],
    [
      '10/x009/x007/x199/x254/x740/991',
      { kind: 'hashes', level: 10, index: Number.MAX_SAFE_INTEGER, width: 256 },
    ],
  ])('parses %s and spells it back', (path, tile) => {
    expect(parseTilePath(path)).toEqual(tile);
    expect(formatTilePath(tile)).toBe(path);
  });

  it('names the tiles of the spec example, a tree of 70,000 leaves', () => {
    const paths = tilesOfTree(70_000).map(formatTilePath);
    expect(paths).toHaveLength(273 + 1 + 1 + 1 + 1);
    expect(paths.slice(0, 2)).toEqual(['0/000', '0/001']);
    expect(paths.slice(272)).toEqual(['0/272', '0/273.p/112', '1/000', '1/001.p/17', '2/000.p/1']);
    expect(tilesOfTree(256).map(formatTilePath)).toEqual(['0/000', '1/000.p/1']);
    for (const path of paths) expect(formatTilePath(parseTilePath(path))).toBe(path);
  });

  it('round-trips random coordinates', () => {
    for (let round = 0; round < 2000; round += 1) {
      const index = Math.floor(Math.random() * 10 ** Math.floor(Math.random() * 16));
      const width = Math.random() < 0.5 ? TILE_WIDTH : 1 + Math.floor(Math.random() * 255);
      const tile: TilePath =
        Math.random() < 0.25
          ? { kind: 'entries', index, width }
          : { kind: 'hashes', level: Math.floor(Math.random() * 64), index, width };
      expect(parseTilePath(formatTilePath(tile))).toEqual(tile);
    }
  });

  it.each([
    ['', 'empty'],
    ['64/000', 'level above 63'],
    ['00/000', 'level with a leading zero'],
    ['01/000', 'level with a leading zero'],
    ['-1/000', 'negative level'],
    ['0/x000/001', 'redundant leading x000'],
    ['entries/x000/x001/000', 'redundant leading x000'],
    ['0/1234', 'four-digit element'],
    ['0/12', 'two-digit element'],
    ['0/x12/345', 'two-digit x element'],
    ['0/001/002', 'inner element without x'],
    ['0/X001/002', 'capital X'],
    ['0/x001/x002', 'last element with x'],
    ['0/00a', 'letter in index'],
    ['0/000.p/256', 'partial width 256'],
    ['0/000.p/0', 'partial width 0'],
    ['0/000.p/007', 'partial width with leading zeros'],
    ['0/000.p/', 'empty partial width'],
    ['0/000.p', 'partial without width'],
    ['entries/000.p/300', 'partial width above 255'],
    ['tile/0/000', 'the tile/ prefix'],
    ['/0/000', 'leading slash'],
    ['0/000/', 'trailing slash'],
    ['0/000 ', 'trailing space'],
    ['0/000\n', 'trailing newline'],
    ['data/000', 'unknown kind'],
    ['3/5/x123/x456/078', 'a Go sumdb path with height'],
    ['1/data/x003/x057/500', 'a Go sumdb data path'],
    ['0/x009/x007/x199/x254/x740/992', 'index of 2^53'],
    ['0/x001/x000/x000/x000/x000/x000/000', 'seven elements'],
  ])('refuses %j (%s)', (path) => {
    expect(() => parseTilePath(path)).toThrow(InvalidTilePathError);
  });

  it.each<[string, TilePath]>([
    ['level 64', { kind: 'hashes', level: 64, index: 0, width: 256 }],
    ['level -1', { kind: 'hashes', level: -1, index: 0, width: 256 }],
    ['fractional level', { kind: 'hashes', level: 1.5, index: 0, width: 256 }],
    ['width 0', { kind: 'hashes', level: 0, index: 0, width: 0 }],
    ['width 257', { kind: 'entries', index: 0, width: 257 }],
    ['fractional width', { kind: 'entries', index: 0, width: 2.5 }],
    ['negative index', { kind: 'entries', index: -1, width: 256 }],
    ['index 2^53', { kind: 'hashes', level: 0, index: 2 ** 53, width: 256 }],
  ])('refuses to spell a tile with %s', (_, tile) => {
    expect(() => formatTilePath(tile)).toThrow(InvalidTilePathError);
  });

  it('throws errors with the stable code', () => {
    expect(thrownBy(() => parseTilePath('nope'))).toMatchObject({
      name: 'InvalidTilePathError',
      code: 'invalid_tile_path',
    });
  });
});

describe('entry bundles', () => {
  it('prefixes each entry with its big-endian uint16 length', () => {
    const bundle = encodeEntryBundle([Buffer.from('ab'), new Uint8Array(0), Uint8Array.of(0xff)]);
    expect(bundle.toString('hex')).toBe('000261620000' + '0001ff');
    expect(decodeEntryBundle(bundle).map((entry) => entry.toString('hex'))).toEqual(['6162', '', 'ff']);
    expect(encodeEntryBundle([])).toHaveLength(0);
    expect(decodeEntryBundle(new Uint8Array(0))).toEqual([]);
  });

  it('round-trips full bundles, the longest entries, and views into larger buffers', () => {
    const entries = Array.from({ length: ENTRY_BUNDLE_WIDTH }, (_, i) => randomBytes(i * 17));
    const decoded = decodeEntryBundle(encodeEntryBundle(entries));
    expect(decoded).toHaveLength(ENTRY_BUNDLE_WIDTH);
    decoded.forEach((entry, i) => {
      expect(entry.equals(entries[i]!)).toBe(true);
    });

    const longest = randomBytes(65_535);
    const framed = Buffer.concat([Buffer.from('junk'), encodeEntryBundle([longest]), Buffer.from('junk')]);
    const [entry] = decodeEntryBundle(
      new Uint8Array(framed.buffer, framed.byteOffset + 4, framed.length - 8),
    );
    expect(entry?.equals(longest)).toBe(true);
  });

  it('refuses bundles it cannot encode', () => {
    expect(() => encodeEntryBundle([Buffer.alloc(65_536)])).toThrow(InvalidEntryBundleError);
    expect(() => encodeEntryBundle(Array.from({ length: 257 }, () => Buffer.alloc(1)))).toThrow(
      InvalidEntryBundleError,
    );
  });

  it.each([
    ['a lone length byte', '00'],
    ['a length beyond the end', '0005616263'],
    ['a truncated second entry', '0001610003'],
    ['257 entries', '0000'.repeat(257)],
  ])('refuses a bundle with %s', (_, hex) => {
    expect(thrownBy(() => decodeEntryBundle(Buffer.from(hex, 'hex')))).toMatchObject({
      name: 'InvalidEntryBundleError',
      code: 'invalid_entry_bundle',
    });
  });
});
