import { blake3, contentAddress } from '@artifactstore/codec';
import type { FileRecord, PackageRecord } from '@artifactstore/registry';
import { decodeManifest, type Manifest } from '@artifactstore/registry/rules';
import type { ArtifactClient } from '../artifact-client.js';
import { CliError } from '../cli.errors.js';

const ADDRESS = /^blake3:[0-9a-f]{64}$/;

/** A package named by its id or by its content address (`blake3:<hex>`). */
export async function resolvePackage(client: ArtifactClient, ref: string): Promise<PackageRecord> {
  if (ref.startsWith('blake3:')) {
    if (!ADDRESS.test(ref)) {
      throw new CliError('invalid_input', `${ref}: a content address is blake3: and 64 lowercase hex digits`);
    }
    return client.resolveContentAddress(ref);
  }
  return client.getPackage(ref);
}

/** The id of a package named by its id or content address: a content address is resolved, an id taken as it is. */
export async function packageIdOf(client: ArtifactClient, ref: string): Promise<string> {
  return ref.startsWith('blake3:') ? (await resolvePackage(client, ref)).id : ref;
}

export interface VerifiedManifest {
  readonly package: PackageRecord;
  readonly bytes: Buffer;
  readonly manifest: Manifest;
  readonly contentAddress: string;
}

/**
 * The manifest of a finalized package, whose BLAKE3 is checked against the address asked for (or, for a package
 * id, the address the server reports), so a manifest altered anywhere on the way is refused with exit 4.
 */
export async function fetchVerifiedManifest(client: ArtifactClient, ref: string): Promise<VerifiedManifest> {
  const pkg = await resolvePackage(client, ref);
  const expected = ref.startsWith('blake3:') ? ref : pkg.content_address;
  if (expected === null) {
    throw new CliError('illegal_package_state', `package ${pkg.id} is ${pkg.status}: it has no manifest yet`);
  }
  const bytes = await client.getManifest(pkg.id);
  return { package: pkg, ...checkManifestBytes(bytes, expected) };
}

/** Decodes manifest bytes whose BLAKE3 must be `expected` (when given). */
export function checkManifestBytes(
  bytes: Buffer,
  expected: string | undefined,
): { bytes: Buffer; manifest: Manifest; contentAddress: string } {
  const actual = contentAddress(blake3(bytes));
  if (expected !== undefined && actual !== expected) {
    throw new CliError('manifest_mismatch', `the manifest's address is ${actual}, not ${expected}`);
  }
  return { bytes, manifest: decodeManifest(bytes), contentAddress: actual };
}

/** Every file of a package, all pages. */
export async function listAllFiles(client: ArtifactClient, packageId: string): Promise<FileRecord[]> {
  const files: FileRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listFiles(packageId, cursor);
    files.push(...page.items);
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined);
  return files;
}
