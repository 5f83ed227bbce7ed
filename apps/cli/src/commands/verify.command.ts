import { readFile } from 'node:fs/promises';
import { toHex } from '@artifactstore/codec';
import type { Manifest } from '@artifactstore/registry';
import type { ArtifactClient, PackageReceipt } from '../artifact-client.js';
import { CliError } from '../cli.errors.js';
import { digestFile, listTree } from '../local-tree.js';
import { note } from '../output.js';
import { runConcurrently } from '../task-pool.js';
import { proveInLog, type LogCheck, type LogProof } from './log-proof.js';
import { checkManifestBytes, fetchVerifiedManifest, parseRef, resolvePackage } from './package-ref.js';
import { asReceipt, parseReceiptText, type ReceiptExpectation } from './receipt-check.js';

export type Difference =
  | { readonly kind: 'missing'; readonly path: string }
  | { readonly kind: 'extra'; readonly path: string }
  | { readonly kind: 'changed'; readonly path: string; readonly what: string[] };

export interface VerifyResult {
  readonly ok: boolean;
  readonly content_address: string;
  readonly files: number;
  readonly differences: Difference[];
  /** With `--log-key`: where the log holds the package's finalization. */
  readonly log?: LogProof;
}

/** Where `verify` takes the manifest from, and whether the log is checked. */
export interface ManifestSource {
  /** `--manifest`: a manifest saved with `manifest --out`. */
  readonly manifestFile?: string;
  /** `--receipt`: a receipt saved with `receipt --out`, checked with `log`. */
  readonly receiptFile?: string;
  /** `--log-key` (or ARTIFACTSTORE_LOG_KEY). */
  readonly log?: LogCheck;
}

/** The manifest to check a tree against, its address, and (with a log key) what the log showed of it. */
export interface ExpectedManifest {
  readonly manifest: Manifest;
  readonly contentAddress: string;
  readonly log?: LogProof;
}

/**
 * The manifest `verify` checks against, by the options given: a receipt (checked against the log's key, offline
 * unless `ref` is a tag), a manifest file, the server's receipt (a log key but neither file), or the server's
 * manifest. A manifest file carries no proof of the log: with a log key too, a note says the log was not checked.
 */
export async function expectedManifest(
  client: () => Promise<ArtifactClient>,
  ref: string,
  source: ManifestSource,
): Promise<ExpectedManifest> {
  const { manifestFile, receiptFile, log } = source;
  if (receiptFile !== undefined) {
    if (log === undefined) {
      throw new CliError(
        'usage',
        "--receipt is checked against the log's verifier key: give --log-key (or set ARTIFACTSTORE_LOG_KEY)",
      );
    }
    return manifestFromReceipt(client, ref, receiptFile, log);
  }
  if (manifestFile !== undefined && log !== undefined) {
    note(
      '--manifest carries no proof of the log, which was not checked (give a receipt with --receipt instead)',
    );
  }
  if (manifestFile !== undefined || log === undefined) return manifestFor(client, ref, manifestFile);
  return manifestFromLog(client, ref, log);
}

/**
 * The manifest a saved receipt carries, once the receipt is checked against the log's key and against `ref`: a
 * package id or a content address is compared with the receipt's, offline; a tag is asked of the server, which is
 * then also asked to prove the checkpoint consistent with the newest seen before.
 */
async function manifestFromReceipt(
  client: () => Promise<ArtifactClient>,
  ref: string,
  receiptFile: string,
  log: LogCheck,
): Promise<ExpectedManifest> {
  const text = await readFile(receiptFile, 'utf8').catch((error: unknown) => {
    throw new CliError('local_file_not_found', `--receipt ${receiptFile}: ${(error as Error).message}`);
  });
  const receipt = parseReceiptText(text, receiptFile);
  const parsed = parseRef(ref);
  switch (parsed.kind) {
    case 'id':
      return fromReceipt(receipt, { packageId: parsed.id, ref }, log);
    case 'address':
      return fromReceipt(receipt, { contentAddress: parsed.address, ref }, log);
    case 'tag':
      return withConnected(client, async (connected) => {
        const tagged = await resolvePackage(connected, ref);
        const expected = { packageId: tagged.id, contentAddress: tagged.content_address ?? undefined, ref };
        return fromReceipt(receipt, expected, log, connected);
      });
  }
}

/** The manifest of the server's receipt for the package `ref` names, checked like a saved one. */
async function manifestFromLog(
  client: () => Promise<ArtifactClient>,
  ref: string,
  log: LogCheck,
): Promise<ExpectedManifest> {
  return withConnected(client, async (connected) => {
    const pkg = await resolvePackage(connected, ref);
    const parsed = parseRef(ref);
    const address = parsed.kind === 'address' ? parsed.address : (pkg.content_address ?? undefined);
    const receipt = asReceipt(await connected.receipt(pkg.id), `the receipt of ${pkg.id}`);
    return fromReceipt(receipt, { packageId: pkg.id, contentAddress: address, ref }, log, connected);
  });
}

async function fromReceipt(
  receipt: PackageReceipt,
  expected: ReceiptExpectation,
  log: LogCheck,
  connected?: ArtifactClient,
): Promise<ExpectedManifest> {
  const { checked, proof } = await proveInLog(receipt, expected, log, connected);
  return { manifest: checked.manifest, contentAddress: checked.contentAddress, log: proof };
}

/**
 * The manifest to check against: from `--manifest` (offline) or from the server; checked against `ref` either way.
 * A tag can only be read where it is kept: with `--manifest`, the server is asked where the tag points, and the file
 * must be that package's manifest.
 */
export async function manifestFor(
  client: () => Promise<ArtifactClient>,
  ref: string,
  manifestFile: string | undefined,
): Promise<{ manifest: Manifest; contentAddress: string }> {
  const parsed = parseRef(ref);
  if (manifestFile === undefined) {
    return withConnected(client, (connected) => fetchVerifiedManifest(connected, ref));
  }
  const bytes = await readFile(manifestFile).catch((error: unknown) => {
    throw new CliError('local_file_not_found', `--manifest ${manifestFile}: ${(error as Error).message}`);
  });
  let expected: { address?: string; packageId?: string };
  switch (parsed.kind) {
    case 'address':
      expected = { address: parsed.address };
      break;
    case 'id':
      expected = { packageId: parsed.id };
      break;
    case 'tag': {
      const tagged = await withConnected(client, (connected) => resolvePackage(connected, ref));
      expected = { address: tagged.content_address ?? undefined, packageId: tagged.id };
      break;
    }
  }
  const checked = checkManifestBytes(bytes, expected.address);
  if (expected.packageId !== undefined && checked.manifest.package.id !== expected.packageId) {
    throw new CliError(
      'manifest_mismatch',
      `${manifestFile} is the manifest of package ${checked.manifest.package.id}, not ${parsed.kind === 'tag' ? `${expected.packageId} (${ref})` : ref}`,
    );
  }
  return checked;
}

async function withConnected<T>(
  client: () => Promise<ArtifactClient>,
  work: (connected: ArtifactClient) => Promise<T>,
): Promise<T> {
  const connected = await client();
  try {
    return await work(connected);
  } finally {
    await connected.close();
  }
}

/** Compares a local tree with a manifest: every file present with its size, SHA-256 and BLAKE3; none extra. */
export async function verifyTree(
  directory: string,
  manifest: Manifest,
  contentAddress: string,
  concurrency: number,
): Promise<VerifyResult> {
  const local = await listTree(directory);
  const differences: Difference[] = [];
  const listed = new Set<string>();
  await runConcurrently(manifest.files, concurrency, async (entry) => {
    listed.add(entry.relative_path);
    const file = local.get(entry.relative_path);
    if (file === undefined) {
      differences.push({ kind: 'missing', path: entry.relative_path });
      return;
    }
    const got = await digestFile(file.absolutePath);
    const what = [
      got.size !== entry.size ? `size ${got.size} instead of ${entry.size}` : undefined,
      got.sha256 !== toHex(entry.sha256) ? 'SHA-256' : undefined,
      got.blake3 !== toHex(entry.blake3) ? 'BLAKE3' : undefined,
    ].filter((item) => item !== undefined);
    if (what.length > 0) differences.push({ kind: 'changed', path: entry.relative_path, what });
  });
  for (const path of local.keys()) {
    if (!listed.has(path)) differences.push({ kind: 'extra', path });
  }
  differences.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  return {
    ok: differences.length === 0,
    content_address: contentAddress,
    files: manifest.files.length,
    differences,
  };
}

export function describeDifference(difference: Difference): string {
  switch (difference.kind) {
    case 'missing':
      return `missing  ${difference.path}`;
    case 'extra':
      return `extra    ${difference.path}`;
    case 'changed':
      return `changed  ${difference.path} (${difference.what.join(', ')})`;
  }
}
