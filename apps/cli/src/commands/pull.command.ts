import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, realpath, rename, rm } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { toHex } from '@artifactstore/codec';
import type { FileRecord, ManifestFile } from '@artifactstore/registry';
import { findPathCollision } from '@artifactstore/registry/rules';
import type { ArtifactClient } from '../artifact-client.js';
import { CliError } from '../cli.errors.js';
import { HashingStream, ignoresLetterCase } from '../local-tree.js';
import { ProgressReporter } from '../progress-reporter.js';
import { runConcurrently } from '../task-pool.js';
import { proveInLog, type LogCheck, type LogProof } from './log-proof.js';
import { fetchVerifiedManifest, listAllFiles } from './package-ref.js';
import { asReceipt } from './receipt-check.js';

export interface PullOptions {
  readonly concurrency: number;
  readonly json?: boolean;
  /** Whether the filesystem of the target directory ignores letter case; probed there when not given. */
  readonly ignoresLetterCase?: (directory: string) => Promise<boolean>;
  /** `--log-key`: the package's receipt is checked, and its checkpoint against the newest seen of the log. */
  readonly log?: LogCheck;
}

export interface PullResult {
  readonly package_id: string;
  readonly content_address: string;
  readonly directory: string;
  readonly files: number;
  readonly bytes: number;
  /** With `--log-key`: where the log holds the package's finalization. */
  readonly log?: LogProof;
}

/**
 * Fetches the manifest (checked against the address), then every file it lists, each checked for size, SHA-256
 * and BLAKE3 as it streams into a temporary file beside its target, renamed into place only when all three
 * match. A path that would land outside the directory (`..`, an absolute path, a symbolic link pointing away) is
 * refused before any byte is written, and so is a package two of whose paths would be one file there: on a
 * filesystem that ignores letter case, `A.txt` beside `a.txt` or `Dir/x` beside `dir/y` (which a store under the
 * posix path policy, or from before the portable one, may hold). An expired or deleted package is refused
 * (`package_gone`) before anything is written. With `log`, so is a package whose receipt does not prove its
 * finalization, with this very manifest, in the signed log (`receipt_invalid`), or whose log does not extend the
 * one this client saw before (`log_inconsistent`).
 */
export async function pull(
  client: ArtifactClient,
  ref: string,
  directory: string,
  options: PullOptions,
): Promise<PullResult> {
  const { package: pkg, manifest, contentAddress } = await fetchVerifiedManifest(client, ref);
  // Its manifest stays, its files are refused: say so before a directory is made or a byte is written.
  if (pkg.status === 'expired' || pkg.status === 'deleted') {
    throw new CliError('package_gone', `package ${pkg.id} is ${pkg.status}: its files are no longer served`);
  }
  const log = options.log && (await provePulled(client, pkg.id, contentAddress, options.log));
  await mkdir(directory, { recursive: true });
  const root = await realpath(directory);
  const targets = new Map(
    manifest.files.map((file) => [file.relative_path, targetPath(root, file.relative_path)]),
  );
  const foldCase = await (options.ignoresLetterCase ?? ignoresLetterCase)(root);
  const collision = findPathCollision(
    manifest.files.map((file) => file.relative_path),
    foldCase,
  );
  if (collision !== undefined) {
    const where = foldCase ? `${root}, which ignores letter case` : root;
    throw new CliError(
      'path_conflict',
      `refusing to pull: ${JSON.stringify(collision.path)} and ${JSON.stringify(collision.conflictsWith)} cannot both be written to ${where} (${collision.reason})`,
    );
  }
  const records = new Map((await listAllFiles(client, pkg.id)).map((file) => [file.relative_path, file]));
  const work = manifest.files.map((entry) => {
    const record = records.get(entry.relative_path);
    if (record === undefined || !sameContent(record, entry)) {
      throw new CliError(
        'manifest_mismatch',
        `the server's file list does not match the manifest at ${JSON.stringify(entry.relative_path)}`,
      );
    }
    return { entry, record, target: targets.get(entry.relative_path) ?? '' };
  });
  const totalBytes = manifest.files.reduce((sum, file) => sum + file.size, 0);
  const progress = new ProgressReporter('downloaded', work.length, totalBytes, process.stderr, options.json);
  try {
    await runConcurrently(work, options.concurrency, async ({ entry, record, target }) => {
      await download(client, root, entry, record, target, progress);
      progress.fileDone(entry.relative_path, entry.size);
    });
  } finally {
    progress.finish();
  }
  return {
    package_id: pkg.id,
    content_address: contentAddress,
    directory,
    files: work.length,
    bytes: totalBytes,
    ...(log === undefined ? {} : { log }),
  };
}

/** The package's receipt, checked against the manifest pull checked, and its checkpoint against the memory. */
async function provePulled(
  client: ArtifactClient,
  packageId: string,
  contentAddress: string,
  log: LogCheck,
): Promise<LogProof> {
  const receipt = asReceipt(await client.receipt(packageId), `the receipt of ${packageId}`);
  return (await proveInLog(receipt, { packageId, contentAddress }, log, client)).proof;
}

/** Where a manifest path goes under `root`, or a refusal when it would go anywhere else. */
export function targetPath(root: string, relativePath: string): string {
  const segments = relativePath.split('/');
  const unsafe =
    relativePath.includes('\\') ||
    relativePath.includes('\0') ||
    segments.some((segment) => segment === '' || segment === '.' || segment === '..');
  const target = resolve(root, ...segments);
  const inside = relative(root, target);
  if (unsafe || inside === '' || inside.startsWith(`..${sep}`) || inside === '..' || isAbsolute(inside)) {
    throw new CliError(
      'unsafe_path',
      `refusing ${JSON.stringify(relativePath)}: it would land outside ${root}`,
    );
  }
  return target;
}

function sameContent(record: FileRecord, entry: ManifestFile): boolean {
  return (
    record.size === entry.size &&
    record.sha256 === toHex(entry.sha256) &&
    record.blake3 === toHex(entry.blake3)
  );
}

async function download(
  client: ArtifactClient,
  root: string,
  entry: ManifestFile,
  record: FileRecord,
  target: string,
  progress: ProgressReporter,
): Promise<void> {
  const parent = dirname(target);
  await mkdir(parent, { recursive: true });
  // A directory inside the tree may be a symbolic link to elsewhere; the real parent must still be inside.
  const realParent = await realpath(parent);
  if (realParent !== root && !realParent.startsWith(root + sep)) {
    throw new CliError(
      'unsafe_path',
      `refusing ${JSON.stringify(entry.relative_path)}: ${parent} leads outside ${root}`,
    );
  }
  const temporary = join(realParent, `.${randomBytes(6).toString('hex')}.artifactstore-partial`);
  const hashing = new HashingStream((count) => {
    progress.bytes(count);
  });
  try {
    const source = await client.openFile(record);
    try {
      await pipeline(source, hashing, createWriteStream(temporary, { flags: 'wx' }));
    } catch (error) {
      if (error instanceof CliError) throw error;
      throw new CliError(
        'download_incomplete',
        `${entry.relative_path}: the download was cut short (${(error as Error).message})`,
      );
    }
    const got = hashing.digests();
    const problems = [
      got.size !== entry.size && `size ${got.size} ≠ ${entry.size}`,
      got.sha256 !== toHex(entry.sha256) && 'SHA-256 differs',
      got.blake3 !== toHex(entry.blake3) && 'BLAKE3 differs',
    ].filter((problem) => problem !== false);
    if (problems.length > 0) {
      throw new CliError(
        'digest_mismatch',
        `${entry.relative_path}: the bytes received do not match the manifest (${problems.join(', ')})`,
      );
    }
    await rename(temporary, join(realParent, basename(target)));
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}
