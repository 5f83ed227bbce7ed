import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import {
  blake3,
  canonicalJson,
  DualHasher,
  toHex,
  type JsonValue,
  type ParsedVerifierKey,
} from '@artifactstore/codec';
import { decodeManifest, encodeManifest, type Manifest } from '@artifactstore/registry/rules';
import type { PackageReceipt } from '../artifact-client.js';
import { CliError } from '../cli.errors.js';
import {
  blobEntryName,
  entryNames,
  INDEX_ENTRY,
  parseIndex,
  type BundleIndex,
  type BundleIndexPackage,
} from './bundle-index.js';
import { readTar, type TarEntry } from './bundle-tar-reader.js';
import { asReceipt, checkReceipt } from './receipt-check.js';

/**
 * The most bytes an index, manifest or receipt entry may have: they are read whole (a manifest of a million files
 * is about 150 MB). Blobs stream, whatever their size.
 */
export const MAX_DOCUMENT_BYTES = 256 * 1024 * 1024;

/** A package of a checked bundle: its index entry, its manifest and its receipt, all checked against each other. */
export interface CheckedBundlePackage {
  /** As the index lists it. */
  readonly listed: BundleIndexPackage;
  readonly manifestBytes: Buffer;
  readonly manifest: Manifest;
  readonly receipt: PackageReceipt;
  /** With a verifier key: the log entry the receipt proves, and the tree size it proves it in. */
  readonly log?: { readonly origin: string; readonly leaf_index: number; readonly tree_size: number };
}

/** A blob of a checked bundle; its digests are the ones its bytes were found to have (lowercase hex). */
export interface CheckedBundleBlob {
  readonly blake3: string;
  readonly sha256: string;
  readonly size: number;
  /** Where its bytes start in the bundle. */
  readonly dataOffset: number;
}

export interface CheckedBundle {
  readonly index: BundleIndex;
  /** In the index's order (by id). */
  readonly packages: readonly CheckedBundlePackage[];
  readonly blobs: ReadonlyMap<string, CheckedBundleBlob>;
  /** Files in all manifests, and the bytes of the distinct blobs. */
  readonly files: number;
  readonly bytes: number;
}

export interface BundleCheckOptions {
  /** Each blob's bytes are also written to `<spoolDirectory>/<BLAKE3 hex>` as they are checked. */
  readonly spoolDirectory?: string;
  /** Check each receipt with this key: signature, entry, manifest, inclusion proof (`checkReceipt`). */
  readonly verifier?: ParsedVerifierKey;
  /** Told of each piece of blob data read (progress). */
  readonly onBlobBytes?: (count: number) => void;
}

/** What the manifests say a blob is: its size and SHA-256, and the first file that says so (for messages). */
interface BlobUse {
  readonly size: number;
  readonly sha256: string;
  readonly where: string;
}

/**
 * Reads a bundle once, front to back, and checks everything in it against everything else before anything is done
 * with it: the index; each manifest is the canonical CBOR of a manifest whose BLAKE3 is its package's content
 * address and whose package is the index's; each receipt parses, is of its package and carries its manifest (with
 * a key, `checkReceipt` proves it in the signed log); each blob's size, BLAKE3 and SHA-256 are what every manifest
 * file with it says; every file has its blob, every blob a file, and no entry is missing, extra or out of place.
 * The first problem is thrown as `bundle_invalid` (exit 4; `receipt_invalid` for a receipt the key refutes), the
 * message starting with the entry's name. Memory holds the documents, never a blob.
 */
export async function checkBundle(
  source: AsyncIterable<Buffer>,
  options: BundleCheckOptions = {},
): Promise<CheckedBundle> {
  let index: BundleIndex | undefined;
  let expected = [INDEX_ENTRY];
  let position = 0;
  const byManifest = new Map<string, BundleIndexPackage>();
  const byReceipt = new Map<string, BundleIndexPackage>();
  const listed = new Map<string, number>();
  const uses = new Map<string, BlobUse>();
  const manifests = new Map<string, { bytes: Buffer; manifest: Manifest }>();
  const receipts = new Map<string, Pick<CheckedBundlePackage, 'receipt' | 'log'>>();
  const blobs = new Map<string, CheckedBundleBlob>();
  let everyBlobUsed = false;

  for await (const entry of readTar(source)) {
    const wanted = expected[position];
    if (entry.name !== wanted) {
      if (wanted !== undefined && expected.includes(entry.name, position)) {
        throw invalid(wanted, `missing (${entry.name} is where it belongs)`);
      }
      throw invalid(
        entry.name,
        wanted === undefined
          ? 'an entry the index does not list (after the last one it lists)'
          : `an entry the index does not list, or out of place (${wanted} belongs here)`,
      );
    }
    position += 1;
    if (index === undefined) {
      index = parseIndex(await readDocument(entry));
      expected = entryNames(index);
      for (const pkg of index.packages) {
        byManifest.set(pkg.manifest, pkg);
        byReceipt.set(pkg.receipt, pkg);
      }
      for (const blob of index.blobs) listed.set(blob.blake3, blob.size);
      continue;
    }
    const forManifest = byManifest.get(entry.name);
    if (forManifest !== undefined) {
      const bytes = await readDocument(entry);
      manifests.set(forManifest.id, {
        bytes,
        manifest: checkManifest(entry.name, bytes, forManifest, listed, uses),
      });
      continue;
    }
    if (!everyBlobUsed) {
      // The manifests are all read (they come first): every listed blob must be some file's.
      const unused = [...listed.keys()].find((hex) => !uses.has(hex));
      if (unused !== undefined) {
        throw invalid(INDEX_ENTRY, `it lists blob ${unused}, which is no file of any manifest`);
      }
      everyBlobUsed = true;
    }
    const forReceipt = byReceipt.get(entry.name);
    if (forReceipt !== undefined) {
      const manifest = manifests.get(forReceipt.id);
      if (manifest === undefined) throw new Error(`the manifest of ${forReceipt.id} was not read`);
      receipts.set(
        forReceipt.id,
        checkBundledReceipt(
          entry.name,
          await readDocument(entry),
          forReceipt,
          manifest.bytes,
          options.verifier,
        ),
      );
      continue;
    }
    const hex = entry.name.slice(blobEntryName('').length);
    const use = uses.get(hex);
    if (use === undefined) throw new Error(`${entry.name} is in the entry list but no manifest's`);
    blobs.set(hex, await checkBlob(entry, hex, use, options));
  }
  const missing = expected[position];
  if (index === undefined || missing !== undefined) {
    throw invalid(missing ?? INDEX_ENTRY, 'missing (the archive ends before it)');
  }
  const packages = index.packages.map((pkg): CheckedBundlePackage => {
    const manifest = manifests.get(pkg.id);
    const receipt = receipts.get(pkg.id);
    if (manifest === undefined || receipt === undefined) throw new Error(`package ${pkg.id} was not read`);
    return { listed: pkg, manifestBytes: manifest.bytes, manifest: manifest.manifest, ...receipt };
  });
  return {
    index,
    packages,
    blobs,
    files: packages.reduce((sum, pkg) => sum + pkg.manifest.files.length, 0),
    bytes: index.blobs.reduce((sum, blob) => sum + blob.size, 0),
  };
}

function checkManifest(
  name: string,
  bytes: Buffer,
  pkg: BundleIndexPackage,
  listed: ReadonlyMap<string, number>,
  uses: Map<string, BlobUse>,
): Manifest {
  const digest = toHex(blake3(bytes));
  if (`blake3:${digest}` !== pkg.content_address) {
    throw invalid(name, `BLAKE3 mismatch (the bytes hash to ${digest}, not ${pkg.content_address})`);
  }
  let manifest: Manifest;
  try {
    manifest = decodeManifest(bytes);
    if (!encodeManifest(manifest).equals(bytes))
      throw new Error('it holds more than a manifest, or out of order');
  } catch (error) {
    throw invalid(name, `not the canonical CBOR of a manifest (${(error as Error).message})`);
  }
  for (const field of ['id', 'name', 'producer', 'subject'] as const) {
    if (manifest.package[field] !== pkg[field]) {
      throw invalid(
        name,
        `its package ${field} is ${JSON.stringify(manifest.package[field])}, but ${INDEX_ENTRY} says ${JSON.stringify(pkg[field])}`,
      );
    }
  }
  for (const file of manifest.files) {
    const hex = toHex(file.blake3);
    const sha256 = toHex(file.sha256);
    const where = `${name}, file ${JSON.stringify(file.relative_path)}`;
    const size = listed.get(hex);
    if (size === undefined) {
      throw invalid(
        name,
        `file ${JSON.stringify(file.relative_path)} has blob ${hex}, which ${INDEX_ENTRY} does not list`,
      );
    }
    if (size !== file.size) {
      throw invalid(
        name,
        `file ${JSON.stringify(file.relative_path)} has ${file.size} bytes, but ${INDEX_ENTRY} lists blob ${hex} with ${size}`,
      );
    }
    const earlier = uses.get(hex);
    if (earlier === undefined) {
      uses.set(hex, { size, sha256, where });
    } else if (earlier.sha256 !== sha256) {
      throw invalid(
        name,
        `file ${JSON.stringify(file.relative_path)} gives blob ${hex} the SHA-256 ${sha256}, but ${earlier.where} gives ${earlier.sha256}`,
      );
    }
  }
  return manifest;
}

function checkBundledReceipt(
  name: string,
  bytes: Buffer,
  pkg: BundleIndexPackage,
  manifestBytes: Buffer,
  verifier: ParsedVerifierKey | undefined,
): Pick<CheckedBundlePackage, 'receipt' | 'log'> {
  let receipt: PackageReceipt;
  try {
    receipt = asReceipt(JSON.parse(bytes.toString('utf8')), name);
  } catch (error) {
    throw invalid(name, `not a receipt (${(error as Error).message})`);
  }
  if (canonicalJson(receipt as unknown as JsonValue) !== bytes.toString('utf8')) {
    throw invalid(
      name,
      'not in its canonical form (RFC 8785 JSON of the receipt fields, as export writes it)',
    );
  }
  if (receipt.package_id !== pkg.id)
    throw invalid(name, `it is the receipt of package ${receipt.package_id}`);
  if (receipt.manifest !== manifestBytes.toString('base64')) {
    throw invalid(name, `the manifest it carries is not ${pkg.manifest}`);
  }
  if (verifier === undefined) return { receipt };
  try {
    const checked = checkReceipt(receipt, verifier, {
      packageId: pkg.id,
      contentAddress: pkg.content_address,
    });
    if (checked.checkpoint.size !== checked.leafIndex + 1) {
      throw new CliError(
        'receipt_invalid',
        `it is proven in the tree of size ${checked.checkpoint.size}, not in the smallest that holds entry ${checked.leafIndex} (${checked.leafIndex + 1}), as a bundle's receipts are`,
      );
    }
    return {
      receipt,
      log: {
        origin: checked.checkpoint.origin,
        leaf_index: checked.leafIndex,
        tree_size: checked.checkpoint.size,
      },
    };
  } catch (error) {
    if (error instanceof CliError) throw new CliError(error.code, `${name}: ${error.message}`);
    throw error;
  }
}

async function checkBlob(
  entry: TarEntry,
  hex: string,
  use: BlobUse,
  options: BundleCheckOptions,
): Promise<CheckedBundleBlob> {
  if (entry.size !== use.size) {
    throw invalid(entry.name, `${entry.size} bytes, but ${INDEX_ENTRY} lists it with ${use.size}`);
  }
  const hasher = new DualHasher();
  let spool: FileHandle | undefined;
  try {
    if (options.spoolDirectory !== undefined) spool = await open(join(options.spoolDirectory, hex), 'wx');
    for await (const chunk of entry.data) {
      hasher.update(chunk);
      options.onBlobBytes?.(chunk.length);
      if (spool !== undefined) await writeAll(spool, chunk);
    }
  } finally {
    await spool?.close();
  }
  const digests = hasher.digests();
  const actual = toHex(digests.blake3);
  if (actual !== hex) throw invalid(entry.name, `BLAKE3 mismatch (the bytes hash to ${actual})`);
  const sha256 = toHex(digests.sha256);
  if (sha256 !== use.sha256) {
    throw invalid(
      entry.name,
      `SHA-256 mismatch (the bytes hash to ${sha256}; ${use.where} says ${use.sha256})`,
    );
  }
  return { blake3: hex, sha256, size: entry.size, dataOffset: entry.dataOffset };
}

async function writeAll(handle: FileHandle, chunk: Buffer): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, offset);
    offset += bytesWritten;
  }
}

/** An index, manifest or receipt entry, whole. */
async function readDocument(entry: TarEntry): Promise<Buffer> {
  if (entry.size > MAX_DOCUMENT_BYTES) {
    throw invalid(
      entry.name,
      `${entry.size} bytes: more than the ${MAX_DOCUMENT_BYTES} an entry read whole may have`,
    );
  }
  const parts: Buffer[] = [];
  for await (const part of entry.data) parts.push(part);
  return Buffer.concat(parts);
}

function invalid(entry: string, problem: string): CliError {
  return new CliError('bundle_invalid', `${entry}: ${problem}`);
}
