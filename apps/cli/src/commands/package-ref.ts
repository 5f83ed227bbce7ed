import { blake3, contentAddress } from '@artifactstore/codec';
import type { FileRecord, PackageRecord } from '@artifactstore/registry';
import { decodeManifest, type Manifest } from '@artifactstore/registry/rules';
import type { ArtifactClient } from '../artifact-client.js';
import { CliError } from '../cli.errors.js';

const ADDRESS = /^blake3:[0-9a-f]{64}$/;
/** `blake3:` and hex digits only, but not an address: a mistyped address rather than a tag of a package `blake3`. */
const ADDRESS_LIKE = /^blake3:[0-9a-fA-F]*$/;
/** The registry's tag grammar (Docker's): 1–128 of `[A-Za-z0-9_.-]`, not starting with `.` or `-`. */
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** What a reference names: a package by its id, by its content address, or by a tag of its name. */
export type PackageRef =
  | { readonly kind: 'id'; readonly id: string }
  | { readonly kind: 'address'; readonly address: string }
  | { readonly kind: 'tag'; readonly name: string; readonly tag: string };

/**
 * Reads a reference: `blake3:` and 64 lowercase hex digits is a content address (even where a package named
 * `blake3` has such a tag); otherwise text with a colon is `<name>:<tag>`, split at the last colon, since a name
 * may hold colons and a tag cannot; anything else is a package id. `blake3:` followed by hex digits only, of
 * another length or case, is refused as a mistyped address rather than read as a tag.
 */
export function parseRef(ref: string): PackageRef {
  if (ADDRESS.test(ref)) return { kind: 'address', address: ref };
  if (ADDRESS_LIKE.test(ref)) {
    throw new CliError('invalid_input', `${ref}: a content address is blake3: and 64 lowercase hex digits`);
  }
  const colon = ref.lastIndexOf(':');
  if (colon < 0) return { kind: 'id', id: ref };
  return tagRef(ref.slice(0, colon), ref.slice(colon + 1), ref);
}

/** A `<name>:<tag>` where only a tag will do (the target of `tag`, `untag`, `history`). */
export function parseTagRef(ref: string): { readonly name: string; readonly tag: string } {
  const colon = ref.lastIndexOf(':');
  if (colon < 0) throw new CliError('usage', `${ref}: expected <name>:<tag>`);
  return tagRef(ref.slice(0, colon), ref.slice(colon + 1), ref);
}

/** Refuses a `--tag` (or the tag of a reference) the registry would refuse, before anything is uploaded. */
export function checkTag(tag: string, ref = tag): string {
  if (!TAG.test(tag)) {
    throw new CliError(
      'invalid_input',
      `${ref}: a tag is 1 to 128 of A-Z a-z 0-9 _ . - and starts with a letter, a digit or _`,
    );
  }
  return tag;
}

function tagRef(name: string, tag: string, ref: string): { kind: 'tag'; name: string; tag: string } {
  if (name === '') throw new CliError('invalid_input', `${ref}: the package name before the colon is empty`);
  return { kind: 'tag', name, tag: checkTag(tag, ref) };
}

/** A package named by its id, its content address (`blake3:<hex>`) or a tag (`<name>:<tag>`). */
export async function resolvePackage(client: ArtifactClient, ref: string): Promise<PackageRecord> {
  const parsed = parseRef(ref);
  switch (parsed.kind) {
    case 'address':
      return client.resolveContentAddress(parsed.address);
    case 'tag':
      return (await client.getTag(parsed.name, parsed.tag)).package;
    case 'id':
      return client.getPackage(parsed.id);
  }
}

/** The id of a package named by any reference: an address or a tag is resolved, an id taken as it is. */
export async function packageIdOf(client: ArtifactClient, ref: string): Promise<string> {
  const parsed = parseRef(ref);
  return parsed.kind === 'id' ? parsed.id : (await resolvePackage(client, ref)).id;
}

export interface VerifiedManifest {
  readonly package: PackageRecord;
  readonly bytes: Buffer;
  readonly manifest: Manifest;
  readonly contentAddress: string;
}

/**
 * The manifest of a finalized package, whose BLAKE3 is checked against the address asked for (or, for a package
 * id or a tag, the address the server reports), so a manifest altered anywhere on the way is refused with exit 4.
 */
export async function fetchVerifiedManifest(client: ArtifactClient, ref: string): Promise<VerifiedManifest> {
  const pkg = await resolvePackage(client, ref);
  const parsed = parseRef(ref);
  const expected = parsed.kind === 'address' ? parsed.address : pkg.content_address;
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
