import { simpleCaseFold } from '@artifactstore/codec';
import { asString, type Row, type Tx } from '@artifactstore/db';
import { parentDirectories, pathCollision } from './input-rules.js';
import {
  DuplicateRelativePathError,
  IllegalPackageStateError,
  PathConflictError,
} from './registry.errors.js';
import { requirePackageStatus } from './view-reads.js';

/** The package exists and is still `created`: it takes files. */
export async function checkTakesFiles(tx: Tx, packageId: string): Promise<void> {
  const status = await requirePackageStatus(tx, packageId);
  if (status !== 'created') throw new IllegalPackageStateError(packageId, status, 'add a file');
}

/**
 * The package takes files, and `path` is free: not a file yet, no file is one of its directories, and it is not
 * a directory of a file. Children are found by range: every path under `a/` sorts from `a/` to just before `a0`
 * (`0` follows `/` in ASCII) in byte order, which both dialects use for relative_path. With `foldCase`, the same
 * holds of the paths' simple case foldings too (checkCaseCollision).
 */
export async function checkCanAdd(tx: Tx, packageId: string, path: string, foldCase: boolean): Promise<void> {
  const candidates = [path, ...parentDirectories(path)];
  // Independent reads, issued together (on PostgreSQL one round trip under the append lock, ADR 0017), then
  // judged in this order, so that the answer does not depend on which read came back first.
  const reads = [
    checkTakesFiles(tx, packageId),
    tx.query(
      `SELECT relative_path FROM artifact_files WHERE package_id = ? AND relative_path IN (${candidates.map(() => '?').join(', ')})`,
      [packageId, ...candidates],
    ),
    tx.query(
      `SELECT relative_path FROM artifact_files WHERE package_id = ? AND relative_path >= ? AND relative_path < ?
        ORDER BY relative_path LIMIT 1`,
      [packageId, `${path}/`, `${path}0`],
    ),
    foldCase ? caseFoldedNeighbours(tx, packageId, path) : Promise.resolve([]),
  ] as const;
  await Promise.allSettled(reads);
  const [takesFiles, takenRead, childRead, foldedRead] = reads;
  await takesFiles;
  const taken = await takenRead;
  if (taken.some((row) => row.relative_path === path)) throw new DuplicateRelativePathError(packageId, path);
  const [parent] = taken;
  if (parent) throw new PathConflictError(path, asString(parent.relative_path));
  const [child] = await childRead;
  if (child) throw new PathConflictError(path, asString(child.relative_path));
  checkCaseCollision(path, await foldedRead);
}

// SQLite allows 500 terms in one compound SELECT; a 1024-byte path has at most 512 segments.
const TERMS_PER_QUERY = 100;

/**
 * The files of the package that may differ from `path`, or have a directory that differs from one of its
 * directories, only by letter case, as the files' `folded_path` (the simple case folding of relative_path, kept by
 * the view) shows; checkCaseCollision judges them. Each term is an index lookup, not a scan of the package: the files whose folding is the folded path or one of
 * its folded directories, and the first file under each of those. The first suffices: two files under one folded
 * directory spell it alike, or they would have been refused themselves (a store may still hold such pairs from
 * before the rule, or from the posix policy; the first file under a directory then speaks for it).
 */
async function caseFoldedNeighbours(tx: Tx, packageId: string, path: string): Promise<Row[]> {
  const folded = [simpleCaseFold(path), ...parentDirectories(path).map(simpleCaseFold)];
  const terms = [
    {
      sql: `SELECT relative_path FROM artifact_files WHERE package_id = ? AND folded_path IN (${folded.map(() => '?').join(', ')})`,
      params: [packageId, ...folded],
    },
    ...folded.map((probe) => ({
      sql: `SELECT relative_path FROM (SELECT relative_path FROM artifact_files
        WHERE package_id = ? AND folded_path >= ? AND folded_path < ? ORDER BY folded_path LIMIT 1) AS first_under`,
      params: [packageId, `${probe}/`, `${probe}0`],
    })),
  ];
  const rows: Row[] = [];
  for (let start = 0; start < terms.length; start += TERMS_PER_QUERY) {
    const chunk = terms.slice(start, start + TERMS_PER_QUERY);
    const sql = chunk.map((term) => term.sql).join(' UNION ALL ');
    rows.push(
      ...(await tx.query(
        sql,
        chunk.flatMap((term) => term.params),
      )),
    );
  }
  return rows;
}

/** Throws when one of `neighbours` (caseFoldedNeighbours) collides with `path` by letter case. */
function checkCaseCollision(path: string, neighbours: readonly Row[]): void {
  const collisions = neighbours
    .map((row) => asString(row.relative_path))
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    .flatMap((other) => {
      const reason = pathCollision(path, other, true);
      return reason === undefined ? [] : [{ other, reason }];
    });
  const [first] = collisions;
  if (first) throw new PathConflictError(path, first.other, first.reason);
}
