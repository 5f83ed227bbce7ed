import { readFile } from 'node:fs/promises';
import { toHex } from '@artifactstore/codec';
import type { Manifest } from '@artifactstore/registry';
import type { ArtifactClient } from '../artifact-client.js';
import { CliError } from '../cli.errors.js';
import { digestFile, listTree } from '../local-tree.js';
import { runConcurrently } from '../task-pool.js';
import { checkManifestBytes, fetchVerifiedManifest, parseRef, resolvePackage } from './package-ref.js';

export type Difference =
  | { readonly kind: 'missing'; readonly path: string }
  | { readonly kind: 'extra'; readonly path: string }
  | { readonly kind: 'changed'; readonly path: string; readonly what: string[] };

export interface VerifyResult {
  readonly ok: boolean;
  readonly content_address: string;
  readonly files: number;
  readonly differences: Difference[];
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
