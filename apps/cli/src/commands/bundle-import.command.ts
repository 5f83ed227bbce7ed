import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { cborToJson, toHex, type JsonValue } from '@artifactstore/codec';
import type { FileRecord, ManifestFile, PackageRecord } from '@artifactstore/registry';
import type { ArtifactClient, Upload } from '../artifact-client.js';
import { asCliError, CliError } from '../cli.errors.js';
import { READ_CHUNK } from '../local-tree.js';
import { note } from '../output.js';
import { ProgressReporter } from '../progress-reporter.js';
import { runConcurrently } from '../task-pool.js';
import {
  checkBundle,
  type CheckedBundle,
  type CheckedBundleBlob,
  type CheckedBundlePackage,
} from './bundle-check.js';
import { listAllFiles } from './package-ref.js';

export interface ImportOptions {
  /** Uploads at once, within one package. */
  readonly concurrency: number;
  readonly json?: boolean;
  /** Where `-` reads the bundle from (stdin). */
  readonly stdin?: AsyncIterable<Buffer>;
  /** Where `-` spools the blobs while it checks them (the system's temporary folder). */
  readonly spoolParent?: string;
}

export interface ImportedPackage {
  readonly id: string;
  readonly name: string;
  readonly content_address: string;
  /** `imported`, or `skipped`: the target already had it, finalized with the same content address. */
  readonly result: 'imported' | 'skipped';
  readonly files: number;
}

export interface ImportResult {
  readonly packages: readonly ImportedPackage[];
  /** Files uploaded, and their bytes. */
  readonly uploaded: number;
  readonly bytes: number;
}

/** A stream of a blob's bytes from `offset` on, from wherever the checked bundle keeps them. */
type BlobReader = (blob: CheckedBundleBlob, offset: number) => Readable;

/** What the import does with a package of the bundle, decided from what the target holds before anything is written. */
type Plan =
  | { readonly action: 'create' | 'skip'; readonly pkg: CheckedBundlePackage }
  | { readonly action: 'conflict'; readonly pkg: CheckedBundlePackage; readonly why: string };

/**
 * Imports a bundle (a file, or `-` for stdin) so that each package gets the same id and content address on the
 * target. First the whole bundle is read and checked (checkBundle); from stdin its blobs are spooled to a temporary
 * folder on the way, removed afterwards. Then the target is asked for every package id: one there, finalized with
 * the same content address, is skipped; one there otherwise (another package, or one expired or deleted) is a
 * `package_conflict`, reported for all of them at once before anything is written. Then each package in id order
 * is created with its id, name, producer, subject, metadata and retention class (the Idempotency-Key is
 * `import:<content address>`, so the client's retry of the create answers the same package, and a draft left by an
 * import of the same package that was killed is taken up again), its files are uploaded, and it is finalized; its
 * content address must come out as the bundle's. A package that fails after its create is deleted (aborted) so
 * nothing partial stays; the packages imported before it stay, and the import stops.
 */
export async function importBundle(
  client: ArtifactClient,
  file: string,
  options: ImportOptions,
): Promise<ImportResult> {
  if (file !== '-') {
    const bundle = await checkBundle(createReadStream(file, { highWaterMark: READ_CHUNK }));
    noteChecked(file, bundle, options);
    return importChecked(client, bundle, fromBundleFile(file), options);
  }
  const spool = await mkdtemp(join(options.spoolParent ?? tmpdir(), 'artifactstore-import-'));
  try {
    const bundle = await checkBundle(options.stdin ?? (process.stdin as AsyncIterable<Buffer>), {
      spoolDirectory: spool,
    });
    noteChecked('the bundle on stdin', bundle, options);
    return await importChecked(client, bundle, fromSpool(spool), options);
  } finally {
    await rm(spool, { recursive: true, force: true });
  }
}

async function importChecked(
  client: ArtifactClient,
  bundle: CheckedBundle,
  readBlob: BlobReader,
  options: ImportOptions,
): Promise<ImportResult> {
  const plans: Plan[] = [];
  for (const pkg of bundle.packages) plans.push(planOf(pkg, await findPackage(client, pkg.listed.id)));
  const conflicts = plans.filter((plan) => plan.action === 'conflict');
  if (conflicts.length > 0) {
    throw new CliError(
      'package_conflict',
      `${conflicts.map((plan) => plan.why).join('; ')}; nothing was imported`,
    );
  }
  const creating = plans.filter((plan) => plan.action === 'create').map((plan) => plan.pkg);
  const progress = new ProgressReporter(
    'uploaded',
    creating.reduce((sum, pkg) => sum + pkg.manifest.files.length, 0),
    creating.reduce((sum, pkg) => sum + pkg.manifest.files.reduce((bytes, file) => bytes + file.size, 0), 0),
    process.stderr,
    options.json,
  );
  const packages: ImportedPackage[] = [];
  let uploaded = 0;
  let bytes = 0;
  try {
    for (const plan of plans) {
      const { listed, manifest } = plan.pkg;
      const outcome =
        plan.action === 'create'
          ? await importPackage(client, plan.pkg, bundle.blobs, readBlob, options.concurrency, progress)
          : { result: 'skipped' as const, uploaded: 0, bytes: 0 };
      uploaded += outcome.uploaded;
      bytes += outcome.bytes;
      packages.push({
        id: listed.id,
        name: listed.name,
        content_address: listed.content_address,
        result: outcome.result,
        files: manifest.files.length,
      });
    }
  } finally {
    progress.finish();
  }
  return { packages, uploaded, bytes };
}

function planOf(pkg: CheckedBundlePackage, existing: PackageRecord | undefined): Plan {
  const { id, content_address: address } = pkg.listed;
  // A draft may be this import's own, left by a run that was killed: the create's Idempotency-Key tells.
  if (existing === undefined || existing.status === 'created') return { action: 'create', pkg };
  if (existing.status === 'finalized' && existing.content_address === address) return { action: 'skip', pkg };
  return { action: 'conflict', pkg, why: conflictOf(id, address, existing) };
}

function conflictOf(id: string, address: string, existing: PackageRecord): string {
  if (existing.content_address === address) {
    return `package ${id} is ${existing.status} on the target: its id stays taken`;
  }
  return `package ${id} is already on the target with other content (${existing.status}${existing.content_address === null ? '' : `, ${existing.content_address}`}), not ${address}`;
}

async function findPackage(client: ArtifactClient, id: string): Promise<PackageRecord | undefined> {
  try {
    return await client.getPackage(id);
  } catch (error) {
    // The local client throws the registry's error, the HTTP client a CliError: the code is the same.
    if (asCliError(error).code === 'package_not_found') return undefined;
    throw error;
  }
}

/** Creates, fills and finalizes one package; on any failure after the create, deletes it again. */
async function importPackage(
  client: ArtifactClient,
  pkg: CheckedBundlePackage,
  blobs: ReadonlyMap<string, CheckedBundleBlob>,
  readBlob: BlobReader,
  concurrency: number,
  progress: ProgressReporter,
): Promise<{ result: 'imported' | 'skipped'; uploaded: number; bytes: number }> {
  const { listed, manifest } = pkg;
  const created = await client.createPackage(
    {
      id: listed.id,
      name: listed.name,
      producer: listed.producer,
      subject: listed.subject,
      retention_class: listed.retention_class,
      metadata: cborToJson(manifest.package.metadata) as Record<string, JsonValue>,
    },
    `import:${listed.content_address}`,
  );
  if (created.status !== 'created') {
    // Another import of the same package finished between the look and the create.
    if (created.status === 'finalized' && created.content_address === listed.content_address) {
      return { result: 'skipped', uploaded: 0, bytes: 0 };
    }
    throw new CliError('package_conflict', conflictOf(listed.id, listed.content_address, created));
  }
  try {
    const pending = await filesToUpload(client, pkg, progress);
    await runConcurrently(pending, concurrency, async (file) => {
      const blob = blobs.get(toHex(file.blake3));
      if (blob === undefined) throw new Error(`the bundle has no blob for ${file.relative_path}`);
      await client.uploadFile(listed.id, uploadOf(file, blob, readBlob, progress));
      progress.fileDone(file.relative_path, file.size);
    });
    const { content_address } = await client.finalizePackage(listed.id);
    if (content_address !== listed.content_address) {
      throw new CliError(
        'manifest_mismatch',
        `package ${listed.id} was finalized as ${content_address}, not ${listed.content_address}`,
      );
    }
    return {
      result: 'imported',
      uploaded: pending.length,
      bytes: pending.reduce((sum, file) => sum + file.size, 0),
    };
  } catch (error) {
    await abandon(client, listed.id, error);
    throw error;
  }
}

/**
 * The manifest's files the package does not hold yet: all of them for a new package; a draft left by an earlier
 * run may hold some already, which must be the same files, and nothing else.
 */
async function filesToUpload(
  client: ArtifactClient,
  pkg: CheckedBundlePackage,
  progress: ProgressReporter,
): Promise<ManifestFile[]> {
  const { listed, manifest } = pkg;
  const there = new Map<string, FileRecord>(
    (await listAllFiles(client, listed.id)).map((file) => [file.relative_path, file]),
  );
  const wanted = new Set(manifest.files.map((file) => file.relative_path));
  const stray = [...there.keys()].find((path) => !wanted.has(path));
  if (stray !== undefined) {
    throw new CliError(
      'package_conflict',
      `the draft of package ${listed.id} holds ${JSON.stringify(stray)}, which the bundle does not`,
    );
  }
  return manifest.files.filter((file) => {
    const record = there.get(file.relative_path);
    if (record === undefined) return true;
    if (
      record.size !== file.size ||
      record.blake3 !== toHex(file.blake3) ||
      record.sha256 !== toHex(file.sha256)
    ) {
      throw new CliError(
        'package_conflict',
        `the draft of package ${listed.id} holds ${JSON.stringify(file.relative_path)} with other content than the bundle's`,
      );
    }
    progress.skippedBytes(file.size);
    progress.fileDone(file.relative_path, file.size, true);
    return false;
  });
}

/** Deletes (aborts) a package whose import failed, so nothing partial stays; a failure to is noted, not thrown. */
async function abandon(client: ArtifactClient, id: string, cause: unknown): Promise<void> {
  const reason = `import failed: ${cause instanceof Error ? cause.message : String(cause)}`.slice(0, 1024);
  try {
    await client.deletePackage(id, reason);
    note(`package ${id} was deleted again: its import failed`);
  } catch (error) {
    note(
      `package ${id} could not be deleted after its import failed (${error instanceof Error ? error.message : String(error)}); delete it with \`artifactstore rm ${id}\``,
    );
  }
}

function uploadOf(
  file: ManifestFile,
  blob: CheckedBundleBlob,
  readBlob: BlobReader,
  progress: ProgressReporter,
): Upload {
  return {
    relativePath: file.relative_path,
    mediaType: file.media_type,
    size: file.size,
    sha256: toHex(file.sha256),
    blake3: toHex(file.blake3),
    open: () => counted(readBlob(blob, 0), progress),
    openFrom: (offset) => counted(readBlob(blob, offset), progress),
  };
}

/** The blobs of a bundle file: read again where pass one found them. */
function fromBundleFile(file: string): BlobReader {
  return (blob, offset) =>
    offset >= blob.size
      ? Readable.from([])
      : createReadStream(file, {
          start: blob.dataOffset + offset,
          end: blob.dataOffset + blob.size - 1,
          highWaterMark: READ_CHUNK,
        });
}

/** The blobs spooled from stdin, one file each, named by BLAKE3. */
function fromSpool(directory: string): BlobReader {
  return (blob, offset) =>
    createReadStream(join(directory, blob.blake3), { start: offset, highWaterMark: READ_CHUNK });
}

function noteChecked(source: string, bundle: CheckedBundle, options: ImportOptions): void {
  if (options.json) return;
  note(
    `${source}: ${bundle.packages.length} packages, ${bundle.files} files, ${bundle.blobs.size} blobs checked`,
  );
}

/** The bytes of `source`, counted into the progress as they are read. */
function counted(source: Readable, progress: ProgressReporter): Readable {
  const counter = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
      progress.bytes(chunk.length);
      callback(null, chunk);
    },
  });
  pipeline(source, counter).catch(() => {
    // pipeline has destroyed the counter with the error; its reader sees it.
  });
  return counter;
}
