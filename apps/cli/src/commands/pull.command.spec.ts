import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { blake3, contentAddress, toHex } from '@artifactstore/codec';
import type { FileRecord, PackageRecord } from '@artifactstore/registry';
import { buildManifest, encodeManifest } from '@artifactstore/registry/rules';
import { VECTOR_PACKAGE, vectorFile } from '../../../../test/support/manifest-vectors.js';
import type { ArtifactClient } from '../artifact-client.js';
import { CliError } from '../cli.errors.js';
import { pull, targetPath } from './pull.command.js';

describe('targetPath', () => {
  const root = '/tmp/pull-root';

  it('places a manifest path under the directory', () => {
    expect(targetPath(root, 'a/b/ü.txt')).toBe(join(root, 'a', 'b', 'ü.txt'));
  });

  it.each(['../escape', 'a/../../escape', '/etc/passwd', 'a//b', './a', 'a\\..\\b', 'a/\0'])(
    'refuses %j, which could land outside the directory',
    (path) => {
      expect(() => targetPath(root, path)).toThrow(CliError);
      try {
        targetPath(root, path);
      } catch (error) {
        expect((error as CliError).exitStatus).toBe(4);
      }
    },
  );
});

describe('pull onto a filesystem that ignores letter case', () => {
  const PACKAGE_ID = '01890a5d-ac96-774b-bcce-b302099a8057';
  let folder: string;

  beforeEach(async () => {
    folder = await mkdtemp(join(tmpdir(), 'artifactstore-pull-'));
  });

  afterEach(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  /** A finalized package holding `paths` (each file's bytes are its path), as a client of a server would see it. */
  function clientOf(paths: readonly string[]): { client: ArtifactClient; opened: string[]; address: string } {
    const opened: string[] = [];
    const files = paths.map((path) => vectorFile(path, path));
    const bytes = encodeManifest(buildManifest(VECTOR_PACKAGE, files));
    const address = contentAddress(blake3(bytes));
    const records: FileRecord[] = files.map((file, index) => ({
      id: `01890a5d-ac96-774b-bcce-${String(index).padStart(12, '0')}`,
      package_id: PACKAGE_ID,
      relative_path: file.relative_path,
      media_type: file.media_type,
      size: file.size,
      blake3: toHex(file.blake3),
      sha256: toHex(file.sha256),
      content_address: contentAddress(file.blake3),
      created_at: '2026-01-02T03:04:05.678Z',
    }));
    const client: Partial<ArtifactClient> = {
      resolveContentAddress: () =>
        Promise.resolve({ id: PACKAGE_ID, status: 'finalized', content_address: address } as PackageRecord),
      getManifest: () => Promise.resolve(bytes),
      listFiles: () => Promise.resolve({ items: records, next_cursor: null }),
      openFile: (record) => {
        opened.push(record.relative_path);
        return Promise.resolve(Readable.from([Buffer.from(record.relative_path)]));
      },
    };
    return { client: client as ArtifactClient, opened, address };
  }

  const pullWith = (paths: readonly string[], ignoresCase: boolean) => {
    const { client, opened, address } = clientOf(paths);
    const target = join(folder, 'out');
    const result = pull(client, address, target, {
      concurrency: 2,
      json: true,
      ignoresLetterCase: () => Promise.resolve(ignoresCase),
    });
    return { result, opened, target };
  };

  it.each([
    [['A.txt', 'a.txt'], '"a.txt" and "A.txt" differ only by letter case'],
    [['Dir/x', 'dir/y'], '"dir" and "Dir" differ only by letter case'],
    [['Dir', 'dir/y'], '"dir" and "Dir" differ only by letter case'],
  ])('refuses %j before writing anything, with exit 3', async (paths, reason) => {
    const { result, opened, target } = pullWith(paths, true);
    await expect(result).rejects.toThrow(CliError);
    await expect(result).rejects.toMatchObject({
      code: 'path_conflict',
      exitStatus: 3,
      message: expect.stringContaining(reason) as string,
    });
    expect(opened).toEqual([]);
    expect(await readdir(target)).toEqual([]);
  });

  it('writes both where the filesystem tells A.txt from a.txt', async () => {
    const { result, target } = pullWith(['A.txt', 'a.txt', 'Dir/x', 'dir/y'], false);
    await expect(result).resolves.toMatchObject({ files: 4 });
    expect(await readFile(join(target, 'A.txt'), 'utf8')).toBe('A.txt');
    expect(await readFile(join(target, 'a.txt'), 'utf8')).toBe('a.txt');
    expect(await readFile(join(target, 'dir', 'y'), 'utf8')).toBe('dir/y');
  });

  it('still refuses a file in the place of a directory where case matters', async () => {
    await expect(pullWith(['a', 'a/b'], false).result).rejects.toMatchObject({ code: 'path_conflict' });
  });
});
