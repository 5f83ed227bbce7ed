import { writeFile, rename, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import type { PackageRecord } from '@artifactstore/registry';
import { manifestJson } from '@artifactstore/registry/rules';
import type { ArtifactClient, PackageQuery } from '../artifact-client.js';
import { printResult } from '../output.js';
import { formatBytes } from '../progress-reporter.js';
import { fetchVerifiedManifest, resolvePackage } from './package-ref.js';

/** `show <ref>`: one package. */
export async function show(client: ArtifactClient, ref: string, json: boolean | undefined): Promise<void> {
  const pkg = await resolvePackage(client, ref);
  printResult(json, pkg, () => describePackage(pkg));
}

/** `ls`: packages newest first, following `next_cursor` until `limit` are shown. */
export async function list(
  client: ArtifactClient,
  query: PackageQuery,
  limit: number,
  json: boolean | undefined,
): Promise<void> {
  const packages: PackageRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listPackages({
      ...query,
      limit: Math.min(1000, limit - packages.length),
      cursor,
    });
    packages.push(...page.items);
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined && packages.length < limit);
  printResult(json, packages, () =>
    packages
      .map((pkg) =>
        [
          pkg.id,
          (pkg.held ? `${pkg.status},held` : pkg.status).padEnd(14),
          pkg.name,
          pkg.subject,
          `${pkg.file_count} files`,
          formatBytes(pkg.total_size),
          pkg.content_address ?? '-',
        ].join('  '),
      )
      .join('\n'),
  );
}

/**
 * `manifest <ref> [--json] [--out f]`: the canonical CBOR (checked against its address), or its RFC 8785 JSON form
 * derived here from those same bytes; written atomically to `--out`, else to stdout.
 */
export async function manifest(
  client: ArtifactClient,
  ref: string,
  options: { json?: boolean; out?: string },
): Promise<void> {
  const { bytes } = await fetchVerifiedManifest(client, ref);
  const output = options.json ? Buffer.from(manifestJson(bytes), 'utf8') : bytes;
  if (options.out === undefined) {
    process.stdout.write(output);
    return;
  }
  const temporary = join(dirname(options.out), `.${randomBytes(6).toString('hex')}.artifactstore-partial`);
  try {
    await writeFile(temporary, output, { flag: 'wx' });
    await rename(temporary, options.out);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

function describePackage(pkg: PackageRecord): string {
  return [
    `id               ${pkg.id}`,
    `name             ${pkg.name}`,
    `producer         ${pkg.producer}`,
    `subject          ${pkg.subject}`,
    `status           ${pkg.status}`,
    `held             ${pkg.held ? `yes${pkg.hold_reason ? ` (${pkg.hold_reason})` : ''}` : 'no'}`,
    `retention class  ${pkg.retention_class}`,
    `files            ${pkg.file_count} (${formatBytes(pkg.total_size)})`,
    `created at       ${pkg.created_at}`,
    `finalized at     ${pkg.finalized_at ?? '-'}`,
    `expires at       ${pkg.expires_at ?? '-'}`,
    `removed at       ${pkg.removed_at ?? '-'}${pkg.removal_reason ? ` (${pkg.removal_reason})` : ''}`,
    `content address  ${pkg.content_address ?? '-'}`,
    `metadata         ${JSON.stringify(pkg.metadata)}`,
  ].join('\n');
}
