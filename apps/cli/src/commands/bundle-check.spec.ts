import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  blake3,
  canonicalJson,
  contentAddress,
  encodeCanonicalCbor,
  sha256,
  toHex,
  type JsonValue,
} from '@artifactstore/codec';
import { buildManifest, encodeManifest, type ManifestFile } from '@artifactstore/registry/rules';
import { SignedLog } from '../../../../test/support/signed-log.js';
import type { PackageReceipt } from '../artifact-client.js';
import { CliError } from '../cli.errors.js';
import { checkBundle, type BundleCheckOptions } from './bundle-check.js';
import {
  blobEntryName,
  buildIndex,
  encodeIndex,
  entryNames,
  INDEX_ENTRY,
  manifestEntryName,
  receiptEntryName,
  type BundleIndex,
} from './bundle-index.js';
import { tarEnd, tarEntry } from './bundle-tar-writer.js';

const ID_A = '01890a5d-ac96-774b-bcce-b302099a8057';
const ID_B = '01890a5d-ac96-774b-bcce-b302099a8058';

interface Entry {
  readonly name: string;
  readonly data: Buffer;
}

/** A bundle's parts, each of which a test may change before the archive is written. */
interface Fixture {
  index: BundleIndex;
  entries: Entry[];
  readonly manifests: Map<string, Buffer>;
  readonly blobs: Map<string, Buffer>;
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

function fileOf(relativePath: string, bytes: Buffer): ManifestFile {
  return {
    relative_path: relativePath,
    media_type: 'application/octet-stream',
    size: bytes.length,
    blake3: blake3(bytes),
    sha256: sha256(bytes),
  };
}

/** The entry of a finalization as the server logs it: [sequence, type, kind, id, actor, at, payload digest]. */
function finalizedEntry(sequence: number, packageId: string, manifest: Buffer): Buffer {
  return encodeCanonicalCbor([
    sequence,
    'v1.package.finalized',
    'package',
    packageId,
    'ci',
    '2026-01-02T03:04:05.678Z',
    blake3(manifest),
  ]);
}

/**
 * Two packages sharing a blob (A: shared.txt, big.bin; B: copy.txt = shared.txt, empty), their manifests, and
 * receipts in `log` at the smallest tree that holds each entry, as export writes them.
 */
function makeFixture(log: SignedLog): Fixture {
  const shared = Buffer.from('shared bytes\n');
  const big = randomBytes(3000);
  const empty = Buffer.alloc(0);
  const packages = [
    { id: ID_A, name: 'web', files: [fileOf('shared.txt', shared), fileOf('big.bin', big)] },
    { id: ID_B, name: 'docs', files: [fileOf('copy.txt', shared), fileOf('empty', empty)] },
  ];
  const manifests = new Map<string, Buffer>();
  const receipts = new Map<string, PackageReceipt>();
  for (const pkg of packages) {
    const manifest = encodeManifest(
      buildManifest(
        { id: pkg.id, name: pkg.name, producer: 'ci', subject: 'git:1', metadata: { n: 1 } },
        pkg.files,
      ),
    );
    const entry = finalizedEntry(log.size + 1, pkg.id, manifest);
    const leaf = log.append(entry);
    manifests.set(pkg.id, manifest);
    receipts.set(pkg.id, {
      package_id: pkg.id,
      leaf_index: leaf,
      entry: b64(entry),
      manifest: b64(manifest),
      checkpoint: log.checkpoint(leaf + 1),
      inclusion_proof: log.inclusionProof(leaf, leaf + 1).map(b64),
    });
  }
  const blobs = new Map([shared, big, empty].map((bytes) => [toHex(blake3(bytes)), bytes]));
  const index = buildIndex(
    packages.map((pkg) => ({
      id: pkg.id,
      name: pkg.name,
      producer: 'ci',
      subject: 'git:1',
      retention_class: 'standard',
      content_address: contentAddress(blake3(manifests.get(pkg.id) ?? Buffer.alloc(0))),
    })),
    [...blobs].map(([hex, bytes]) => ({ blake3: hex, size: bytes.length })),
  );
  const byName = new Map<string, Buffer>([[INDEX_ENTRY, encodeIndex(index)]]);
  for (const pkg of index.packages) {
    byName.set(pkg.manifest, manifests.get(pkg.id) ?? Buffer.alloc(0));
    byName.set(pkg.receipt, Buffer.from(canonicalJson(receipts.get(pkg.id) as unknown as JsonValue)));
  }
  for (const [hex, bytes] of blobs) byName.set(blobEntryName(hex), bytes);
  const entries = entryNames(index).map((name) => ({ name, data: byName.get(name) ?? Buffer.alloc(0) }));
  return { index, entries, manifests, blobs };
}

async function archiveOf(entries: readonly Entry[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const { name, data } of entries) {
    for await (const part of tarEntry(name, data.length, data)) parts.push(part);
  }
  parts.push(tarEnd());
  return Buffer.concat(parts);
}

function chunks(bytes: Buffer, size = 4096): Readable {
  const pieces: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += size)
    pieces.push(bytes.subarray(offset, offset + size));
  return Readable.from(pieces);
}

function replaceEntry(fixture: Fixture, name: string, data: Buffer): void {
  fixture.entries = fixture.entries.map((entry) => (entry.name === name ? { name, data } : entry));
}

/** Writes a new index (and its entry) from `change` of the fixture's. */
function rewriteIndex(fixture: Fixture, change: (index: BundleIndex) => BundleIndex): void {
  fixture.index = change(fixture.index);
  replaceEntry(fixture, INDEX_ENTRY, encodeIndex(fixture.index));
}

describe('checkBundle', () => {
  const log = new SignedLog();
  const otherLog = new SignedLog('example.test/other');
  const fixture = makeFixture(log);
  const [blobA, blobB, blobC] = fixture.index.blobs.map((blob) => blob.blake3);
  const manifestOfA = fixture.index.packages[0]?.manifest ?? '';

  const failureOf = async (
    change: (copy: Fixture) => void,
    options: BundleCheckOptions = {},
  ): Promise<{ code: string; exitStatus: number; message: string }> => {
    const copy: Fixture = { ...fixture, entries: [...fixture.entries] };
    change(copy);
    try {
      await checkBundle(chunks(await archiveOf(copy.entries)), options);
    } catch (error) {
      expect(error).toBeInstanceOf(CliError);
      const { code, exitStatus, message } = error as CliError;
      return { code, exitStatus, message };
    }
    throw new Error('expected the bundle to be refused');
  };

  it('reads a sound bundle: packages in id order, each blob once with where its bytes are', async () => {
    const bytes = await archiveOf(fixture.entries);
    for (const size of [1000, 1 << 20]) {
      const bundle = await checkBundle(chunks(bytes, size));
      expect(
        bundle.packages.map((pkg) => [pkg.listed.id, pkg.listed.name, pkg.manifest.files.length]),
      ).toEqual([
        [ID_A, 'web', 2],
        [ID_B, 'docs', 2],
      ]);
      expect(bundle.packages[0]?.manifestBytes.equals(fixture.manifests.get(ID_A) ?? Buffer.alloc(1))).toBe(
        true,
      );
      expect(bundle.packages[0]?.log).toBeUndefined();
      expect([bundle.files, bundle.blobs.size, bundle.bytes]).toEqual([4, 3, 3013]);
      for (const blob of bundle.blobs.values()) {
        const expected = fixture.blobs.get(blob.blake3) ?? Buffer.alloc(1);
        expect(bytes.subarray(blob.dataOffset, blob.dataOffset + blob.size).equals(expected)).toBe(true);
        expect(blob.sha256).toBe(toHex(sha256(expected)));
      }
    }
  });

  it('with a key, proves each receipt in the signed log', async () => {
    const bundle = await checkBundle(chunks(await archiveOf(fixture.entries)), { verifier: log.verifier });
    expect(bundle.packages.map((pkg) => pkg.log)).toEqual([
      { origin: log.origin, leaf_index: 0, tree_size: 1 },
      { origin: log.origin, leaf_index: 1, tree_size: 2 },
    ]);
  });

  it('spools each blob to a folder as it checks it', async () => {
    const spool = await mkdtemp(join(tmpdir(), 'artifactstore-bundle-check-'));
    try {
      await checkBundle(chunks(await archiveOf(fixture.entries)), { spoolDirectory: spool });
      expect((await readdir(spool)).sort()).toEqual([...fixture.blobs.keys()].sort());
      for (const [hex, bytes] of fixture.blobs)
        expect((await readFile(join(spool, hex))).equals(bytes)).toBe(true);
    } finally {
      await rm(spool, { recursive: true, force: true });
    }
  });

  it.each<[string, (copy: Fixture) => void, string | RegExp]>([
    [
      'a blob with one byte flipped',
      (copy) => {
        const bytes = Buffer.from(fixture.blobs.get(blobA ?? '') ?? Buffer.alloc(0));
        bytes[0] = (bytes[0] ?? 0) ^ 1;
        replaceEntry(copy, blobEntryName(blobA ?? ''), bytes);
      },
      `blobs/${blobA}: BLAKE3 mismatch (the bytes hash to `,
    ],
    [
      'a blob of another size than the index says',
      (copy) => {
        replaceEntry(copy, blobEntryName(blobB ?? ''), Buffer.alloc(3));
      },
      /^blobs\/[0-9a-f]{64}: 3 bytes, but index\.json lists it with \d+$/,
    ],
    [
      'another manifest in the place of one',
      (copy) => {
        replaceEntry(copy, manifestOfA, fixture.manifests.get(ID_B) ?? Buffer.alloc(0));
      },
      `${manifestOfA}: BLAKE3 mismatch (the bytes hash to `,
    ],
    [
      'a manifest that is not canonical (an extra key), under its own address',
      (copy) => {
        const extra = encodeCanonicalCbor({
          extra: 1,
          schema: 'artifactstore.manifest.v1',
          package: { id: ID_A, name: 'web', producer: 'ci', subject: 'git:1', metadata: {} },
          files: [],
        });
        const address = contentAddress(blake3(extra));
        rewriteIndex(copy, (index) => ({
          ...index,
          packages: index.packages.map((pkg) =>
            pkg.id === ID_A
              ? { ...pkg, content_address: address, manifest: manifestEntryName(address) }
              : pkg,
          ),
        }));
        copy.entries = copy.entries.map((entry) =>
          entry.name === manifestOfA ? { name: manifestEntryName(address), data: extra } : entry,
        );
        copy.entries.sort(
          (a, b) => entryNames(copy.index).indexOf(a.name) - entryNames(copy.index).indexOf(b.name),
        );
      },
      /^manifests\/[0-9a-f]{64}\.cbor: not the canonical CBOR of a manifest/,
    ],
    [
      'an index that is not canonical JSON',
      (copy) => {
        replaceEntry(copy, INDEX_ENTRY, Buffer.from(JSON.stringify(fixture.index, null, 2)));
      },
      'index.json: not in its canonical form (RFC 8785 JSON, as export writes it)',
    ],
    [
      'an index of another version',
      (copy) => {
        replaceEntry(
          copy,
          INDEX_ENTRY,
          Buffer.from(
            canonicalJson({ ...fixture.index, schema: 'artifactstore.bundle.v2' } as unknown as JsonValue),
          ),
        );
      },
      /^index\.json: schema is "artifactstore\.bundle\.v2"/,
    ],
    [
      "an index whose package name is not the manifest's",
      (copy) => {
        rewriteIndex(copy, (index) => ({
          ...index,
          packages: index.packages.map((pkg) => (pkg.id === ID_A ? { ...pkg, name: 'other' } : pkg)),
        }));
      },
      `${manifestOfA}: its package name is "web", but index.json says "other"`,
    ],
    [
      'an index that lists a blob no file has',
      (copy) => {
        rewriteIndex(copy, (index) => ({
          ...index,
          blobs: [...index.blobs, { blake3: 'f'.repeat(64), size: 1 }],
        }));
      },
      `index.json: it lists blob ${'f'.repeat(64)}, which is no file of any manifest`,
    ],
    [
      'an index that leaves out a blob a file has',
      (copy) => {
        rewriteIndex(copy, (index) => ({
          ...index,
          blobs: index.blobs.filter((blob) => blob.blake3 !== blobC),
        }));
        copy.entries = copy.entries.filter((entry) => entry.name !== blobEntryName(blobC ?? ''));
      },
      /^manifests\/[0-9a-f]{64}\.cbor: file "[a-z.]+" has blob [0-9a-f]{64}, which index\.json does not list$/,
    ],
    [
      'a missing blob',
      (copy) => {
        copy.entries = copy.entries.filter((entry) => entry.name !== blobEntryName(blobC ?? ''));
      },
      `blobs/${blobC}: missing (the archive ends before it)`,
    ],
    [
      'a missing receipt',
      (copy) => {
        copy.entries = copy.entries.filter((entry) => entry.name !== receiptEntryName(ID_A));
      },
      `receipts/${ID_A}.json: missing (receipts/${ID_B}.json is where it belongs)`,
    ],
    [
      'an entry the index does not list',
      (copy) => {
        copy.entries = [...copy.entries, { name: 'notes.txt', data: Buffer.from('hi') }];
      },
      'notes.txt: an entry the index does not list (after the last one it lists)',
    ],
    [
      'blobs out of order',
      (copy) => {
        const blobs = copy.entries.filter((entry) => entry.name.startsWith('blobs/')).reverse();
        copy.entries = [...copy.entries.filter((entry) => !entry.name.startsWith('blobs/')), ...blobs];
      },
      `blobs/${blobA}: missing (blobs/${blobC} is where it belongs)`,
    ],
    [
      'a receipt of another package',
      (copy) => {
        replaceEntry(
          copy,
          receiptEntryName(ID_A),
          fixture.entries.find((entry) => entry.name === receiptEntryName(ID_B))?.data ?? Buffer.alloc(0),
        );
      },
      `receipts/${ID_A}.json: it is the receipt of package ${ID_B}`,
    ],
    [
      'a receipt that is not JSON',
      (copy) => {
        replaceEntry(copy, receiptEntryName(ID_B), Buffer.from('{'));
      },
      /^receipts\/.*\.json: not a receipt \(/,
    ],
    [
      'a receipt that is not canonical JSON',
      (copy) => {
        const receipt = JSON.parse(
          fixture.entries.find((entry) => entry.name === receiptEntryName(ID_B))?.data.toString() ?? '{}',
        ) as unknown;
        replaceEntry(copy, receiptEntryName(ID_B), Buffer.from(JSON.stringify(receipt, null, 1)));
      },
      `receipts/${ID_B}.json: not in its canonical form`,
    ],
  ])('refuses %s, naming the entry (bundle_invalid, exit 4)', async (_case, change, message) => {
    const failure = await failureOf(change);
    expect([failure.code, failure.exitStatus]).toEqual(['bundle_invalid', 4]);
    if (typeof message === 'string') expect(failure.message.startsWith(message)).toBe(true);
    else expect(failure.message).toMatch(message);
  });

  it('refuses a truncated bundle, naming where it ends', async () => {
    const bytes = await archiveOf(fixture.entries);
    for (const cut of [100, bytes.length - 2000, bytes.length - 1024]) {
      await expect(checkBundle(chunks(bytes.subarray(0, cut)))).rejects.toMatchObject({
        code: 'bundle_invalid',
        message: expect.stringMatching(/^truncated archive: the archive ends /) as string,
      });
    }
  });

  it('with a key, refuses a receipt of another log or proven in a larger tree (receipt_invalid, exit 4)', async () => {
    const signedByOther = await failureOf(() => undefined, { verifier: otherLog.verifier });
    expect(signedByOther).toMatchObject({ code: 'receipt_invalid', exitStatus: 4 });
    expect(signedByOther.message).toMatch(new RegExp(`^receipts/${ID_A}\\.json: `));

    const larger = await failureOf(
      (copy) => {
        const receipt = JSON.parse(
          fixture.entries.find((entry) => entry.name === receiptEntryName(ID_A))?.data.toString() ?? '{}',
        ) as PackageReceipt;
        const grown = {
          ...receipt,
          checkpoint: log.checkpoint(2),
          inclusion_proof: log.inclusionProof(0, 2).map(b64),
        };
        replaceEntry(copy, receiptEntryName(ID_A), Buffer.from(canonicalJson(grown as unknown as JsonValue)));
      },
      { verifier: log.verifier },
    );
    expect(larger).toMatchObject({ code: 'receipt_invalid', exitStatus: 4 });
    expect(larger.message).toContain(`receipts/${ID_A}.json: it is proven in the tree of size 2`);
  });
});
