import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { canonicalJson, createBlake3, toHex, type JsonValue } from '@artifactstore/codec';
import type { FileRecord, PackageRecord } from '@artifactstore/registry';
import type { Manifest } from '@artifactstore/registry/rules';
import type { ArtifactClient, PackageReceipt } from '../artifact-client.js';
import { CliError } from '../cli.errors.js';
import { ProgressReporter } from '../progress-reporter.js';
import {
  blobEntryName,
  buildIndex,
  encodeIndex,
  INDEX_ENTRY,
  type BundleIndex,
  type BundleIndexBlob,
} from './bundle-index.js';
import { tarEnd, tarEntry } from './bundle-tar-writer.js';
import { fetchVerifiedManifest, listAllFiles } from './package-ref.js';
import { asReceipt } from './receipt-check.js';

export interface ExportOptions {
  /** The bundle's file, written atomically; stdout when absent. */
  readonly out?: string;
  /** Downloads open at once: the blob being written and the next ones, waiting. */
  readonly concurrency: number;
  readonly json?: boolean;
  /** Where a bundle without `out` goes (stdout). */
  readonly stdout?: Writable;
}

export interface ExportResult {
  readonly packages: readonly { readonly id: string; readonly content_address: string }[];
  readonly files: number;
  readonly blobs: number;
  /** Bytes of the distinct blobs. */
  readonly bytes: number;
  /** The file written, or null for stdout. */
  readonly out: string | null;
}

/** A package ready to be written: its manifest checked against its address, its receipt, its file records. */
interface ExportedPackage {
  readonly package: PackageRecord;
  readonly contentAddress: string;
  readonly manifest: Manifest;
  readonly manifestBytes: Buffer;
  readonly receipt: PackageReceipt;
}

/** A blob to write, and a file of the source to download it from. */
interface BlobSource extends BundleIndexBlob {
  readonly file: FileRecord;
}

/**
 * Writes the finalized packages `refs` name as a bundle (docs/formats.md, "Bundle"): index, manifests, receipts,
 * then each distinct blob once, downloaded and streamed straight into the archive, its size and BLAKE3 checked on
 * the way. Everything but the blobs is fetched and checked first, so a package that cannot be exported (not
 * finalized, expired or deleted, a manifest or receipt that does not match) is refused before a byte is written.
 * The same packages give the same bytes, whatever the order of `refs`. A blob found damaged stops the export with
 * exit 4 before the end of the archive: a file (`--out`) is then not written at all, and stdout is left a
 * truncated archive that no reader takes.
 */
export async function exportBundle(
  client: ArtifactClient,
  refs: readonly string[],
  options: ExportOptions,
): Promise<ExportResult> {
  const packages = new Map<string, ExportedPackage>();
  for (const ref of refs) {
    const exported = await exportedPackage(client, ref);
    packages.set(exported.package.id, exported);
  }
  const blobs = new Map<string, BlobSource>();
  let files = 0;
  for (const { package: pkg, manifest } of packages.values()) {
    const records = new Map((await listAllFiles(client, pkg.id)).map((file) => [file.relative_path, file]));
    for (const entry of manifest.files) {
      const record = records.get(entry.relative_path);
      const hex = toHex(entry.blake3);
      if (
        record === undefined ||
        record.size !== entry.size ||
        record.blake3 !== hex ||
        record.sha256 !== toHex(entry.sha256)
      ) {
        throw new CliError(
          'manifest_mismatch',
          `the server's file list of package ${pkg.id} does not match its manifest at ${JSON.stringify(entry.relative_path)}`,
        );
      }
      if (!blobs.has(hex)) blobs.set(hex, { blake3: hex, size: entry.size, file: record });
      files += 1;
    }
  }
  const index = buildIndex(
    [...packages.values()].map(({ package: pkg, contentAddress }) => ({
      id: pkg.id,
      name: pkg.name,
      producer: pkg.producer,
      subject: pkg.subject,
      retention_class: pkg.retention_class,
      content_address: contentAddress,
    })),
    blobs.values(),
  );
  const bytes = index.blobs.reduce((sum, blob) => sum + blob.size, 0);
  const progress = new ProgressReporter('exported', index.blobs.length, bytes, process.stderr, options.json);
  const archive = Readable.from(bundleBytes(client, index, packages, blobs, options.concurrency, progress), {
    objectMode: false,
  });
  try {
    if (options.out === undefined) {
      await pipeline(archive, options.stdout ?? process.stdout, { end: false });
    } else {
      await writeFileFrom(options.out, archive);
    }
  } finally {
    progress.finish();
  }
  return {
    packages: index.packages.map((pkg) => ({ id: pkg.id, content_address: pkg.content_address })),
    files,
    blobs: index.blobs.length,
    bytes,
    out: options.out ?? null,
  };
}

/** A finalized, live package: its manifest checked against its address, and its receipt. */
async function exportedPackage(client: ArtifactClient, ref: string): Promise<ExportedPackage> {
  const { package: pkg, bytes, manifest, contentAddress } = await fetchVerifiedManifest(client, ref);
  if (pkg.status !== 'finalized') {
    throw new CliError(
      pkg.status === 'created' ? 'illegal_package_state' : 'package_gone',
      `package ${pkg.id} is ${pkg.status}: only a finalized package that is not expired or deleted can be exported`,
    );
  }
  const receipt = await smallestReceipt(client, pkg.id, bytes);
  return { package: pkg, contentAddress, manifest, manifestBytes: bytes, receipt };
}

/**
 * The package's receipt in the smallest tree that holds its entry (size = leaf index + 1), so that the same
 * package always exports the same receipt: the whole log's receipt tells the leaf index, then that one is asked
 * for. It must be of the package and carry the manifest being exported.
 */
async function smallestReceipt(
  client: ArtifactClient,
  packageId: string,
  manifestBytes: Buffer,
): Promise<PackageReceipt> {
  const source = `the receipt of package ${packageId}`;
  const current = asReceipt(await client.receipt(packageId), source);
  const receipt = asReceipt(await client.receipt(packageId, current.leaf_index + 1), source);
  if (receipt.package_id !== packageId || receipt.leaf_index !== current.leaf_index) {
    throw new CliError(
      'receipt_invalid',
      `${source} is of package ${receipt.package_id}, entry ${receipt.leaf_index}`,
    );
  }
  if (receipt.manifest !== manifestBytes.toString('base64')) {
    throw new CliError('receipt_invalid', `${source} carries another manifest than the package's`);
  }
  return receipt;
}

/** The archive, entry by entry, in the bundle's order; blobs are downloaded as they are reached. */
async function* bundleBytes(
  client: ArtifactClient,
  index: BundleIndex,
  packages: ReadonlyMap<string, ExportedPackage>,
  blobs: ReadonlyMap<string, BlobSource>,
  concurrency: number,
  progress: ProgressReporter,
): AsyncGenerator<Buffer> {
  yield* tarEntry(INDEX_ENTRY, encodeIndex(index).length, encodeIndex(index));
  const exported = index.packages.map((entry) => ({ entry, source: packages.get(entry.id) }));
  for (const { entry, source } of [...exported].sort((a, b) => byText(a.entry.manifest, b.entry.manifest))) {
    if (source === undefined) throw new Error(`package ${entry.id} is not being exported`);
    yield* tarEntry(entry.manifest, source.manifestBytes.length, source.manifestBytes);
  }
  for (const { entry, source } of exported) {
    if (source === undefined) throw new Error(`package ${entry.id} is not being exported`);
    const bytes = Buffer.from(canonicalJson(source.receipt as unknown as JsonValue), 'utf8');
    yield* tarEntry(entry.receipt, bytes.length, bytes);
  }
  const order = index.blobs.map((blob) => blobs.get(blob.blake3) as BlobSource);
  // The next downloads are opened while one is written, so a bundle of many small blobs does not wait for each.
  const opened: Promise<Readable>[] = [];
  const openNext = (): void => {
    const blob = order[opened.length];
    if (blob !== undefined) opened.push(openQuietly(client, blob.file));
  };
  try {
    for (let ahead = 0; ahead < Math.max(1, concurrency); ahead += 1) openNext();
    for (const [position, blob] of order.entries()) {
      const download = await (opened[position] as Promise<Readable>);
      openNext();
      yield* tarEntry(blobEntryName(blob.blake3), blob.size, checkedBlob(download, blob, progress));
      progress.fileDone(blobEntryName(blob.blake3), blob.size);
    }
    yield tarEnd();
  } finally {
    for (const pending of opened) {
      void pending.then((stream) => stream.destroy()).catch(() => undefined);
    }
  }
}

/** A download opened ahead of its turn: an error before it is read is kept for the reader, not left unhandled. */
function openQuietly(client: ArtifactClient, file: FileRecord): Promise<Readable> {
  const opening = client.openFile(file).then((stream) => {
    stream.on('error', () => undefined);
    return stream;
  });
  opening.catch(() => undefined);
  return opening;
}

/** The bytes of a download, passed on as they come; their count and BLAKE3 must be the blob's. */
async function* checkedBlob(
  download: Readable,
  blob: BundleIndexBlob,
  progress: ProgressReporter,
): AsyncGenerator<Buffer> {
  const hash = createBlake3();
  let size = 0;
  try {
    for await (const chunk of download) {
      const bytes = chunk as Buffer;
      size += bytes.length;
      if (size > blob.size) break;
      hash.update(bytes);
      progress.bytes(bytes.length);
      yield bytes;
    }
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(
      'download_incomplete',
      `${blobEntryName(blob.blake3)}: the download was cut short (${(error as Error).message})`,
    );
  } finally {
    download.destroy();
  }
  const actual = size === blob.size ? toHex(hash.digest()) : undefined;
  if (actual !== blob.blake3) {
    throw new CliError(
      'digest_mismatch',
      `${blobEntryName(blob.blake3)}: the bytes received do not match the manifest (${actual === undefined ? `size ${size} ≠ ${blob.size}` : 'BLAKE3 differs'})`,
    );
  }
}

/** Writes `archive` to a temporary file beside `path`, renamed over it once whole; removed on any failure. */
async function writeFileFrom(path: string, archive: Readable): Promise<void> {
  const temporary = join(
    dirname(path),
    `.${basename(path)}.${randomBytes(6).toString('hex')}.artifactstore-partial`,
  );
  try {
    await pipeline(archive, createWriteStream(temporary, { flags: 'wx', highWaterMark: 1 << 20 }));
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
