import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { buffer } from 'node:stream/consumers';
import pg from 'pg';
import { asString } from '@artifactstore/db';
import type { Event } from '@artifactstore/events';
import type { FileRecord, PackageRecord, Registry } from '@artifactstore/registry';
import type { CoreContext } from './core-context.js';

const BLOB_COLLECTED = 'v1.blob.collected';
const EVENT_PAGE = 1000;

/** Every event after `since`, a page at a time. */
export async function eventsAfter(registry: Registry, since: number): Promise<Event[]> {
  const events: Event[] = [];
  let cursor = since;
  for (;;) {
    const page = await registry.listEvents(cursor, EVENT_PAGE);
    events.push(...page);
    const last = page.at(-1);
    if (page.length < EVENT_PAGE || !last) return events;
    cursor = last.sequence;
  }
}

/** The `v1.blob.collected` events of the blob `key` after `since`. */
export async function collectedEventsFor(registry: Registry, key: string, since = 0): Promise<Event[]> {
  return (await eventsAfter(registry, since)).filter(
    (event) => event.event_type === BLOB_COLLECTED && event.subject_id === key,
  );
}

/** Every package that is `created` or `finalized` now. */
export async function livePackages(registry: Registry): Promise<PackageRecord[]> {
  const packages: PackageRecord[] = [];
  for (const status of ['created', 'finalized']) {
    let cursor: string | undefined;
    do {
      const page = await registry.listPackages({ status, limit: 1000, cursor });
      packages.push(...page.items);
      cursor = page.next_cursor ?? undefined;
    } while (cursor !== undefined);
  }
  return packages;
}

/** Every file of a package. */
export async function filesOf(registry: Registry, packageId: string): Promise<FileRecord[]> {
  const files: FileRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await registry.listFiles(packageId, { limit: 1000, cursor });
    files.push(...page.items);
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined);
  return files;
}

/**
 * Downloads every file of every live package and compares it with the bytes the test uploaded (`expected`, by
 * SHA-256 hex), or, for bytes it does not know (another test's), with the size and SHA-256 the file was recorded
 * with. Returns one line per problem (so that a failure names them all), empty when every file is whole.
 */
export async function liveFileProblems(
  registry: Registry,
  expected: ReadonlyMap<string, Buffer>,
): Promise<{ files: number; problems: string[] }> {
  const problems: string[] = [];
  let files = 0;
  for (const pkg of await livePackages(registry)) {
    for (const file of await filesOf(registry, pkg.id)) {
      files++;
      const where = `${pkg.status} package ${pkg.id}, file ${file.relative_path} (blake3 ${file.blake3})`;
      try {
        const got = await buffer(await registry.openFile(file));
        const want = expected.get(file.sha256);
        const sha = createHash('sha256').update(got).digest('hex');
        if (want ? !got.equals(want) : got.length !== file.size || sha !== file.sha256) {
          problems.push(`${where}: downloaded ${got.length} bytes with sha256 ${sha}`);
        }
      } catch (error) {
        problems.push(
          `${where}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
        );
      }
    }
  }
  return { files, problems };
}

/** Storage locations (in this backend) of files of live packages whose blob is not in storage. */
export async function liveLocationsWithoutBlob(core: CoreContext): Promise<string[]> {
  const rows = await core.database.read((tx) =>
    tx.query(
      `SELECT DISTINCT s.key FROM storage_locations s JOIN artifact_files f ON f.id = s.file_id
        JOIN artifact_packages p ON p.id = f.package_id
        WHERE p.status IN ('created', 'finalized') AND s.backend = ?`,
      [core.blobStore.backend],
    ),
  );
  const missing: string[] = [];
  for (const row of rows) {
    const key = asString(row.key);
    if (!(await core.blobStore.exists(key))) missing.push(key);
  }
  return missing;
}

/**
 * Resolves once some unit of work of this database waits for the log's append lock (or, on SQLite, for the one
 * writer): on SQLite the write queue of the Database, on PostgreSQL an advisory lock not granted in this
 * database (pg_locks). Throws if none does within `limitMs`, which only bounds a test that would otherwise hang.
 */
export async function untilAWriteWaits(
  core: CoreContext,
  postgresUrl: string | undefined,
  limitMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + limitMs;
  const client = postgresUrl === undefined ? undefined : new pg.Client({ connectionString: postgresUrl });
  await client?.connect();
  try {
    for (;;) {
      if (client) {
        const { rows } = await client.query<{ n: string }>(
          `SELECT count(*) AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database
            WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database()`,
        );
        if (Number(rows[0]?.n ?? 0) > 0) return;
      } else if (core.database.connectionStats().waiting > 0) {
        return;
      }
      if (Date.now() > deadline)
        throw new Error(`no unit of work waited for the append lock within ${limitMs} ms`);
      await sleep(5);
    }
  } finally {
    await client?.end();
  }
}
