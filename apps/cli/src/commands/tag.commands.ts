import type { ArtifactClient, TagMove, TagRecord } from '../artifact-client.js';
import { printResult } from '../output.js';
import { packageIdOf, parseRef, parseTagRef } from './package-ref.js';

/**
 * `tag <ref> <name>:<tag>`: point the tag at the package `ref` names (a finalized package of that name). An id or
 * a content address goes to the registry as it is; a tag is first read, so `tag web:candidate web:stable` promotes.
 */
export async function tag(
  client: ArtifactClient,
  ref: string,
  target: string,
  json: boolean | undefined,
): Promise<void> {
  const { name, tag: tagName } = parseTagRef(target);
  const packageRef = parseRef(ref).kind === 'tag' ? await packageIdOf(client, ref) : ref;
  const { tag: moved, created } = await client.moveTag(name, tagName, packageRef);
  printResult(
    json,
    { ...moved, created },
    () => `${created ? 'tagged' : 'moved'} ${target} → ${describeTarget(moved)}`,
  );
}

/** `untag <name>:<tag>` (admin): remove the tag; its history stays. */
export async function untag(
  client: ArtifactClient,
  target: string,
  json: boolean | undefined,
): Promise<void> {
  const { name, tag: tagName } = parseTagRef(target);
  await client.deleteTag(name, tagName);
  printResult(json, { name, tag: tagName, deleted: true }, () => `untagged ${target}`);
}

/** `tags <name>`: a name's tags in byte order, every page. */
export async function tags(client: ArtifactClient, name: string, json: boolean | undefined): Promise<void> {
  const found: TagRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTags(name, cursor);
    found.push(...page.items);
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined);
  const width = Math.max(0, ...found.map((record) => record.tag.length));
  printResult(json, found, () =>
    found
      .map((record) =>
        [
          record.tag.padEnd(width),
          record.package.id,
          record.package.content_address ?? '-',
          record.moved_at,
          record.moved_by,
        ].join('  '),
      )
      .join('\n'),
  );
}

/** `history <name>:<tag>`: every move and removal of the tag, newest first, every page. */
export async function history(
  client: ArtifactClient,
  target: string,
  json: boolean | undefined,
): Promise<void> {
  const { name, tag: tagName } = parseTagRef(target);
  const moves: TagMove[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.tagHistory(name, tagName, cursor);
    moves.push(...page.items);
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined);
  printResult(json, moves, () => moves.map(describeMove).join('\n'));
}

function describeTarget(record: TagRecord): string {
  return `${record.package.id} (${record.package.content_address ?? record.package.status})`;
}

function describeMove(move: TagMove): string {
  const what =
    move.package_id === null
      ? `deleted (was ${move.previous_package_id ?? '-'})`
      : `moved to ${move.package_id}${move.previous_package_id === null ? ' (new)' : ` from ${move.previous_package_id}`}`;
  return [String(move.sequence), move.at, move.by, what].join('  ');
}
