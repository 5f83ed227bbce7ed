import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { CliError } from '../cli.errors.js';
import { decodeTarHeader, encodeTarHeader, TAR_BLOCK } from './bundle-tar-header.js';
import { readTar } from './bundle-tar-reader.js';
import { tarEnd, tarEntry } from './bundle-tar-writer.js';

interface Entry {
  readonly name: string;
  readonly data: Buffer;
}

const ENTRIES: readonly Entry[] = [
  { name: 'index.json', data: Buffer.from('{"schema":"x"}') },
  { name: 'blobs/empty', data: Buffer.alloc(0) },
  { name: 'blobs/exact', data: Buffer.alloc(TAR_BLOCK, 7) },
  { name: `blobs/${'f'.repeat(64)}`, data: randomBytes(3 * TAR_BLOCK + 123) },
];

async function archiveOf(entries: readonly Entry[], end = true): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const { name, data } of entries) {
    for await (const part of tarEntry(name, data.length, data)) parts.push(part);
  }
  if (end) parts.push(tarEnd());
  return Buffer.concat(parts);
}

/** The archive as a stream of `size`-byte chunks. */
function chunks(bytes: Buffer, size: number): Readable {
  const pieces: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += size)
    pieces.push(bytes.subarray(offset, offset + size));
  return Readable.from(pieces);
}

/** Every entry read back, its data whole (or skipped, unread, when `skip` names it). */
async function readBack(source: AsyncIterable<Buffer>, skip = new Set<string>()) {
  const read: { name: string; size: number; dataOffset: number; data?: Buffer }[] = [];
  for await (const entry of readTar(source)) {
    if (skip.has(entry.name)) {
      read.push({ name: entry.name, size: entry.size, dataOffset: entry.dataOffset });
      continue;
    }
    const parts: Buffer[] = [];
    for await (const part of entry.data) parts.push(Buffer.from(part));
    read.push({
      name: entry.name,
      size: entry.size,
      dataOffset: entry.dataOffset,
      data: Buffer.concat(parts),
    });
  }
  return read;
}

async function failureOf(bytes: Buffer): Promise<{ code: string; message: string }> {
  try {
    await readBack(chunks(bytes, 1000));
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    return { code: (error as CliError).code, message: (error as CliError).message };
  }
  throw new Error('expected the archive to be refused');
}

/** A copy of `header` with `text` at `offset` and its checksum made right again. */
function withField(header: Buffer, offset: number, text: string | Buffer): Buffer {
  const copy = Buffer.from(header);
  (typeof text === 'string' ? Buffer.from(text, 'latin1') : text).copy(copy, offset);
  copy.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of copy) sum += byte;
  copy.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return copy;
}

describe('the bundle tar header', () => {
  it('fixes every field but the name and size, as docs/formats.md says', () => {
    const header = encodeTarHeader('index.json', 981);
    const field = (offset: number, length: number): string =>
      header.toString('latin1', offset, offset + length);
    expect(header).toHaveLength(512);
    expect(field(0, 100)).toBe(`index.json${'\0'.repeat(90)}`);
    expect(field(100, 8)).toBe('0000644\0');
    expect(field(108, 8)).toBe('0000000\0');
    expect(field(116, 8)).toBe('0000000\0');
    expect(field(124, 12)).toBe('00000001725\0');
    expect(field(136, 12)).toBe('00000000000\0');
    expect(field(156, 1)).toBe('0');
    expect(field(157, 100)).toBe('\0'.repeat(100));
    expect(field(257, 8)).toBe('ustar\u000000');
    expect(field(265, 64)).toBe('\0'.repeat(64));
    expect(field(329, 183)).toBe('\0'.repeat(183));
    let sum = 0;
    for (const [offset, byte] of header.entries()) sum += offset >= 148 && offset < 156 ? 0x20 : byte;
    expect(field(148, 8)).toBe(`${sum.toString(8).padStart(6, '0')}\0 `);
    // The golden bytes (Python's tarfile writes the same for these fields): a change here changes every bundle.
    expect(createHash('sha256').update(header).digest('hex')).toBe(
      'ce205a27d0283cf91422db80c3393544012504828bc3d01b59d6e8dbeaa6f9e6',
    );
    expect(decodeTarHeader(header, undefined)).toEqual({ name: 'index.json', size: 981 });
  });

  it('writes a size past 8 GiB − 1 in base 256 and reads it back', () => {
    const octal = encodeTarHeader('blobs/a', 8 ** 11 - 1);
    expect(octal.toString('latin1', 124, 136)).toBe('77777777777\0');
    const size = 8 ** 11 + 5;
    const header = encodeTarHeader('blobs/a', size);
    expect(header[124]).toBe(0x80);
    expect(header.readUIntBE(130, 6)).toBe(size);
    expect(decodeTarHeader(header, undefined)).toEqual({ name: 'blobs/a', size });
  });

  it('refuses names a bundle cannot hold', () => {
    expect(() => encodeTarHeader('x'.repeat(101), 0)).toThrow(/1 to 100 printable ASCII/);
    expect(() => encodeTarHeader('a b', 0)).toThrow(/printable ASCII/);
    expect(() => encodeTarHeader('', 0)).toThrow(/printable ASCII/);
  });
});

describe('writing and reading a bundle archive', () => {
  it('writes the same bytes for the same entries: blocks, padding and two zero blocks at the end', async () => {
    const first = await archiveOf(ENTRIES);
    expect((await archiveOf(ENTRIES)).equals(first)).toBe(true);
    expect(first.length % TAR_BLOCK).toBe(0);
    expect(first.length).toBe(
      ENTRIES.reduce((sum, { data }) => sum + TAR_BLOCK + Math.ceil(data.length / TAR_BLOCK) * TAR_BLOCK, 0) +
        2 * TAR_BLOCK,
    );
    expect(first.subarray(-2 * TAR_BLOCK).equals(Buffer.alloc(2 * TAR_BLOCK))).toBe(true);
  });

  it('is read by GNU tar or bsdtar as regular files owned by 0/0 from 1970', async () => {
    const tar = spawnSync('tar', ['--version'], { encoding: 'utf8' });
    if (tar.status !== 0) {
      console.warn('no tar on PATH: the interoperability check is skipped');
      return;
    }
    const folder = await mkdtemp(join(tmpdir(), 'artifactstore-tar-spec-'));
    try {
      const file = join(folder, 'bundle.tar');
      await writeFile(file, await archiveOf(ENTRIES));
      const listed = spawnSync('tar', ['-tvf', file], {
        encoding: 'utf8',
        env: { ...process.env, TZ: 'UTC' },
      });
      expect(listed.status).toBe(0);
      const lines = listed.stdout.trim().split('\n');
      expect(lines.map((line) => line.split(/\s+/).at(-1))).toEqual(ENTRIES.map(({ name }) => name));
      for (const [index, line] of lines.entries()) {
        expect(line).toMatch(/^-rw-r--r-- +0\/0 +\d+ 1970-01-01 00:00 /);
        expect(line).toContain(` ${ENTRIES[index]?.data.length} `);
      }
      const extracted = spawnSync('tar', ['-xOf', file, ENTRIES[3]?.name ?? ''], { maxBuffer: 1 << 20 });
      expect(Buffer.from(extracted.stdout).equals(ENTRIES[3]?.data ?? Buffer.alloc(1))).toBe(true);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });

  it.each([1, 7, 511, 512, 4096, 1 << 20])(
    'reads the entries back from chunks of %i bytes, with where their data starts',
    async (size) => {
      const bytes = await archiveOf(ENTRIES);
      const read = await readBack(chunks(bytes, size));
      expect(read.map(({ name, data }) => ({ name, data }))).toEqual(
        ENTRIES.map(({ name, data }) => ({ name, data })),
      );
      for (const entry of read) {
        expect(
          bytes
            .subarray(entry.dataOffset, entry.dataOffset + entry.size)
            .equals(entry.data ?? Buffer.alloc(0)),
        ).toBe(true);
      }
    },
  );

  it('passes over the data of an entry the reader leaves unread, or reads only in part', async () => {
    const bytes = await archiveOf(ENTRIES);
    const read = await readBack(chunks(bytes, 100), new Set(['blobs/exact', `blobs/${'f'.repeat(64)}`]));
    expect(read.map(({ name }) => name)).toEqual(ENTRIES.map(({ name }) => name));
    const names: string[] = [];
    for await (const entry of readTar(chunks(bytes, 300))) {
      names.push(entry.name);
      for await (const part of entry.data) {
        expect(part.length).toBeGreaterThan(0);
        break;
      }
    }
    expect(names).toEqual(ENTRIES.map(({ name }) => name));
  });

  it('refuses to write data of another length than the header announced', async () => {
    const write = async (announced: number, data: Buffer): Promise<void> => {
      const parts: Buffer[] = [];
      for await (const part of tarEntry('blobs/x', announced, Readable.from([data]))) parts.push(part);
    };
    await expect(write(5, Buffer.alloc(4))).rejects.toThrow(/4 bytes, not the 5 announced/);
    await expect(write(5, Buffer.alloc(6))).rejects.toThrow(/more than the 5 bytes announced/);
  });
});

describe('a damaged archive is refused, naming the entry', () => {
  const third = ENTRIES[3]?.name ?? '';
  let bytes: Buffer;
  /** Where the header of entry `n` starts. */
  let headerAt: number[];

  beforeAll(async () => {
    bytes = await archiveOf(ENTRIES);
    headerAt = [];
    let offset = 0;
    for (const { data } of ENTRIES) {
      headerAt.push(offset);
      offset += TAR_BLOCK + Math.ceil(data.length / TAR_BLOCK) * TAR_BLOCK;
    }
  });

  const replaceHeader = (index: number, header: Buffer): Buffer => {
    const copy = Buffer.from(bytes);
    header.copy(copy, headerAt[index]);
    return copy;
  };
  const header = (index: number): Buffer =>
    bytes.subarray(headerAt[index], (headerAt[index] ?? 0) + TAR_BLOCK);

  it.each<[string, () => Buffer, RegExp]>([
    [
      'a header whose checksum does not add up',
      () => {
        const copy = Buffer.from(bytes);
        const at = (headerAt[2] ?? 0) + 140;
        copy[at] = (copy[at] ?? 0) ^ 1;
        return copy;
      },
      /^blobs\/exact: its header checksum does not match \(a damaged header\)/,
    ],
    [
      'an mtime',
      () => replaceHeader(2, withField(header(2), 136, '00000000001\0')),
      /^blobs\/exact: its header field mtime/,
    ],
    [
      'a mode',
      () => replaceHeader(1, withField(header(1), 100, '0000755\0')),
      /^blobs\/empty: its header field mode/,
    ],
    [
      'a user name',
      () => replaceHeader(1, withField(header(1), 265, 'root')),
      /^blobs\/empty: its header field uname/,
    ],
    [
      'a directory',
      () => replaceHeader(1, withField(header(1), 156, '5')),
      /^blobs\/empty: it is not a regular file \(type "5"\)/,
    ],
    [
      'a pax header',
      () => replaceHeader(0, withField(header(0), 156, 'x')),
      /^index\.json: it is not a regular file/,
    ],
    [
      'the GNU magic',
      () => replaceHeader(0, withField(header(0), 257, 'ustar  \0')),
      /^index\.json: its header field magic/,
    ],
    [
      'a size that is not octal',
      () => replaceHeader(1, withField(header(1), 124, '0000000000x\0')),
      /^blobs\/empty: its size field is not a number/,
    ],
    [
      'padding that is not zeros',
      () => {
        const copy = Buffer.from(bytes);
        copy[(headerAt[1] ?? 0) - 1] = 1;
        return copy;
      },
      /^index\.json: the padding after its data is not zeros/,
    ],
    [
      'a cut inside an entry',
      () => bytes.subarray(0, (headerAt[3] ?? 0) + TAR_BLOCK + 1000),
      new RegExp(`^truncated archive: the archive ends inside ${third}, after 1000 of its 1659 bytes`),
    ],
    [
      'a cut inside a header',
      () => bytes.subarray(0, (headerAt[3] ?? 0) + 100),
      /^truncated archive: the archive ends inside the header of the entry after blobs\/exact/,
    ],
    [
      'no end-of-archive blocks',
      () => bytes.subarray(0, bytes.length - 2 * TAR_BLOCK),
      new RegExp(`^truncated archive: the archive ends without its end-of-archive blocks after ${third}`),
    ],
    [
      'one end-of-archive block',
      () => bytes.subarray(0, bytes.length - TAR_BLOCK),
      /^truncated archive: the archive ends inside its end-of-archive blocks/,
    ],
    [
      'bytes after the end',
      () => Buffer.concat([bytes, Buffer.alloc(TAR_BLOCK)]),
      /^the end of the archive: bytes follow the end-of-archive blocks/,
    ],
  ])('%s', async (_case, damage, message) => {
    const failure = await failureOf(damage());
    expect(failure.code).toBe('bundle_invalid');
    expect(failure.message).toMatch(message);
  });
});
