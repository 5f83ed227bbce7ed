import { CliError } from '../cli.errors.js';

/** A tar block: every header is one, every entry's data is padded to a multiple of it. */
export const TAR_BLOCK = 512;

/** The end of an archive: two blocks of zeros. */
export const TAR_END = Buffer.alloc(2 * TAR_BLOCK);

/** A ustar name field holds 100 bytes; a bundle's names are ASCII and never longer (no prefix, no pax). */
const NAME_LENGTH = 100;
/** The largest size the 11 octal digits of a ustar size field can spell (8 GiB − 1). */
const MAX_OCTAL_SIZE = 8 ** 11 - 1;
const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;

/** Where each field of the 512-byte ustar header is: [offset, length] (POSIX.1-1988). */
const FIELDS = {
  name: [0, 100],
  mode: [100, 8],
  uid: [108, 8],
  gid: [116, 8],
  size: [124, 12],
  mtime: [136, 12],
  checksum: [148, 8],
  typeflag: [156, 1],
  linkname: [157, 100],
  magic: [257, 6],
  version: [263, 2],
  uname: [265, 32],
  gname: [297, 32],
  devmajor: [329, 8],
  devminor: [337, 8],
  prefix: [345, 155],
  padding: [500, 12],
} as const satisfies Record<string, readonly [number, number]>;

type FieldName = keyof typeof FIELDS;

/**
 * The header of a bundle entry: a regular file (typeflag `0`) named `name`, of `size` bytes, with every other field
 * fixed (mode 0644, uid and gid 0, mtime 0, empty user and group names, `ustar\0` `00`, no device numbers), so that
 * the same entries always give the same bytes: those Python's `tarfile` writes in its USTAR format for the same
 * fields. Numbers are zero-padded octal ended by a NUL; a size past 8 GiB − 1 is written in
 * base 256 (the first byte 0x80, then the size big-endian in 11 bytes), as GNU tar and bsdtar write and read it.
 */
export function encodeTarHeader(name: string, size: number): Buffer {
  if (!PRINTABLE_ASCII.test(name) || name.length > NAME_LENGTH) {
    throw new Error(`a bundle entry name is 1 to 100 printable ASCII characters: ${JSON.stringify(name)}`);
  }
  if (!Number.isSafeInteger(size) || size < 0) throw new Error(`not an entry size: ${size}`);
  const header = Buffer.alloc(TAR_BLOCK);
  header.write(name, FIELDS.name[0], 'ascii');
  writeOctal(header, 'mode', 0o644);
  writeOctal(header, 'uid', 0);
  writeOctal(header, 'gid', 0);
  writeSize(header, size);
  writeOctal(header, 'mtime', 0);
  header.write('0', FIELDS.typeflag[0], 'ascii');
  header.write('ustar\0', FIELDS.magic[0], 'ascii');
  header.write('00', FIELDS.version[0], 'ascii');
  // The checksum is the sum of the header's bytes with its own field read as eight spaces: 6 octal digits, NUL, space.
  header.fill(0x20, FIELDS.checksum[0], FIELDS.checksum[0] + FIELDS.checksum[1]);
  const sum = checksumOf(header);
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, FIELDS.checksum[0], 'ascii');
  return header;
}

/**
 * The name and size of a header block, which must be exactly what encodeTarHeader writes for them: a checksum
 * that does not add up is a damaged header, and any other field with another value (a mode, an mtime, a link, a
 * pax or GNU extension) is not a bundle's. `after` names the entry before, for messages.
 */
export function decodeTarHeader(block: Buffer, after: string | undefined): { name: string; size: number } {
  const where = after === undefined ? 'the first entry' : `the entry after ${after}`;
  const name = nameOf(block);
  const label = name ?? where;
  const stored = block.toString('ascii', FIELDS.checksum[0], FIELDS.checksum[0] + FIELDS.checksum[1]);
  const copy = Buffer.from(block);
  copy.fill(0x20, FIELDS.checksum[0], FIELDS.checksum[0] + FIELDS.checksum[1]);
  const match = /^([0-7]{1,7})[\0 ]*$/.exec(stored.replace(/^ +/, ''));
  if (!match || parseInt(match[1] ?? '', 8) !== checksumOf(copy)) {
    throw invalidHeader(label, 'its header checksum does not match (a damaged header)');
  }
  if (name === undefined) {
    throw invalidHeader(where, 'its name is not 1 to 100 printable ASCII characters');
  }
  const size = sizeOf(block);
  if (size === undefined) throw invalidHeader(name, 'its size field is not a number');
  let expected: Buffer;
  try {
    expected = encodeTarHeader(name, size);
  } catch (error) {
    throw invalidHeader(name, (error as Error).message);
  }
  // The checksum follows from the other fields: name one of those when they differ, the checksum's spelling last.
  const order = (Object.keys(FIELDS) as FieldName[]).sort(
    (a, b) => Number(a === 'checksum') - Number(b === 'checksum'),
  );
  const field = order.find((key) => {
    const [offset, length] = FIELDS[key];
    return !block.subarray(offset, offset + length).equals(expected.subarray(offset, offset + length));
  });
  if (field !== undefined) {
    throw invalidHeader(
      name,
      field === 'typeflag'
        ? `it is not a regular file (type ${JSON.stringify(block.toString('latin1', 156, 157))}); a bundle holds only files`
        : `its header field ${field} is not the bundle's fixed value (a bundle's headers are written as docs/formats.md says)`,
    );
  }
  return { name, size };
}

/** How many zero bytes follow `size` bytes of data up to the next block. */
export function tarPadding(size: number): number {
  return (TAR_BLOCK - (size % TAR_BLOCK)) % TAR_BLOCK;
}

export function isZeroBlock(block: Buffer): boolean {
  for (const byte of block) if (byte !== 0) return false;
  return true;
}

function nameOf(block: Buffer): string | undefined {
  const field = block.subarray(FIELDS.name[0], FIELDS.name[0] + FIELDS.name[1]);
  const end = field.indexOf(0);
  const name = field.toString('latin1', 0, end < 0 ? field.length : end);
  return PRINTABLE_ASCII.test(name) ? name : undefined;
}

function sizeOf(block: Buffer): number | undefined {
  const [offset, length] = FIELDS.size;
  const field = block.subarray(offset, offset + length);
  if (field[0] === 0x80) {
    let size = 0;
    for (const byte of field.subarray(1)) size = size * 256 + byte;
    return Number.isSafeInteger(size) ? size : undefined;
  }
  const match = /^([0-7]{11})\0$/.exec(field.toString('latin1'));
  return match ? parseInt(match[1] ?? '', 8) : undefined;
}

function writeOctal(header: Buffer, field: FieldName, value: number): void {
  const [offset, length] = FIELDS[field];
  header.write(`${value.toString(8).padStart(length - 1, '0')}\0`, offset, 'ascii');
}

function writeSize(header: Buffer, size: number): void {
  if (size <= MAX_OCTAL_SIZE) {
    writeOctal(header, 'size', size);
    return;
  }
  const [offset, length] = FIELDS.size;
  header[offset] = 0x80;
  let rest = size;
  for (let index = offset + length - 1; index > offset; index -= 1) {
    header[index] = rest % 256;
    rest = Math.floor(rest / 256);
  }
}

function checksumOf(header: Buffer): number {
  let sum = 0;
  for (const byte of header) sum += byte;
  return sum;
}

function invalidHeader(entry: string, problem: string): CliError {
  return new CliError('bundle_invalid', `${entry}: ${problem}`);
}
