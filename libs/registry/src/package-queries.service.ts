import { Injectable } from '@nestjs/common';
import { isUuid, parseTimestamp } from '@artifactstore/codec';
import { Database, asString, type Dialect } from '@artifactstore/db';
import { EventLog } from '@artifactstore/events';
import { PACKAGE_FINALIZED } from '@artifactstore/views';
import { checkContentAddress, checkFilterText, checkId, normalizeRelativePath } from './input-rules.js';
import { manifestJson } from './manifest.js';
import { checkLimit, decodeCursor, toPage, type Page } from './page-cursor.js';
import {
  FILE_SELECT,
  PACKAGE_SELECT,
  asStatus,
  toFileRecord,
  toPackageRecord,
  type FileRecord,
  type PackageRecord,
} from './records.js';
import {
  FileNotFoundError,
  IllegalPackageStateError,
  InvalidInputError,
  ManifestNotFoundError,
  PackageNotFoundError,
  PACKAGE_STATUSES,
} from './registry.errors.js';
import { requireFile, requirePackage, requirePackageStatus } from './view-reads.js';

export interface PackageFilter {
  readonly name?: string;
  readonly producer?: string;
  readonly subject?: string;
  readonly status?: string;
  /** 1–1000, default 100. */
  readonly limit?: number;
  readonly cursor?: string;
}

export interface PageRequest {
  readonly limit?: number;
  readonly cursor?: string;
}

export type ManifestFormat = 'cbor' | 'json';

// Checked at run time too: JavaScript callers (the CLI's options) are not held to the type.
const MANIFEST_FORMATS: readonly string[] = ['cbor', 'json'];

export interface ManifestBytes {
  readonly package_id: string;
  readonly content_address: string;
  readonly format: ManifestFormat;
  readonly bytes: Buffer;
}

/** The filters of listPackages, in the order their conditions appear in a statement. */
const PACKAGE_FILTERS = ['name', 'producer', 'subject', 'status'] as const;
type PackageFilterField = (typeof PACKAGE_FILTERS)[number];

/**
 * Every statement listPackages may run, per dialect and per set of filters, with and without a cursor, written out
 * once when the module loads: fixed texts (prepared and cached as such), never SQL assembled from a request. Each
 * reads one index in its order, (created_at, id) without a filter and (<first filter>, created_at, id) with one,
 * and the cursor is a row-value comparison that each dialect's planner turns into a bound of that index range
 * rather than a filter, so a page deep in the list costs what the first page costs (test/integration/
 * keyset-plans.int-spec.ts asserts the plans). The dialects differ in which spelling they bound the range with:
 * SQLite takes `name = ? AND (created_at, id) < (?, ?)`; PostgreSQL only a comparison over the whole index key,
 * `(name, created_at, id) < (?, ?, ?)`, the filter's value repeated (PostgreSQL then also orders by the filter).
 */
const LIST_PACKAGES: Readonly<Record<Dialect, ReadonlyMap<string, string>>> = {
  sqlite: listStatements('sqlite'),
  postgres: listStatements('postgres'),
};

function listStatements(dialect: Dialect): ReadonlyMap<string, string> {
  return new Map(
    Array.from({ length: 2 ** PACKAGE_FILTERS.length }, (_, mask) => {
      const fields = PACKAGE_FILTERS.filter((_, bit) => (mask & (1 << bit)) !== 0);
      const key = [...(dialect === 'postgres' ? fields.slice(0, 1) : []), 'created_at', 'id'].map(
        (column) => `p.${column}`,
      );
      return [false, true].map((cursor): [string, string] => {
        const conditions = [
          ...fields.map((field) => `p.${field} = ?`),
          ...(cursor ? [`(${key.join(', ')}) < (${key.map(() => '?').join(', ')})`] : []),
        ];
        const where = conditions.length > 0 ? ` WHERE ${conditions.join(' AND ')}` : '';
        const order = key.map((column) => `${column} DESC`).join(', ');
        return [listKey(fields, cursor), `${PACKAGE_SELECT}${where} ORDER BY ${order} LIMIT ?`];
      });
    }).flat(),
  );
}

function listKey(fields: readonly PackageFilterField[], cursor: boolean): string {
  return `${fields.join(',')}|${cursor ? 'cursor' : ''}`;
}

/** Reading the views: packages, their files and their manifests. Nothing here writes. */
@Injectable()
export class PackageQueries {
  constructor(
    private readonly database: Database,
    private readonly eventLog: EventLog,
  ) {}

  async getPackage(packageId: string): Promise<PackageRecord> {
    checkId('package_id', packageId);
    return this.database.read((tx) => requirePackage(tx, packageId));
  }

  /** Newest first (created_at, then id), filtered by exact name, producer, subject and status. */
  async listPackages(filter: PackageFilter = {}): Promise<Page<PackageRecord>> {
    const limit = checkLimit(filter.limit);
    const fields: PackageFilterField[] = [];
    const params: unknown[] = [];
    for (const field of PACKAGE_FILTERS) {
      const value = filter[field];
      if (value === undefined) continue;
      if (field === 'status' && !(PACKAGE_STATUSES as readonly string[]).includes(value)) {
        throw new InvalidInputError('status', `must be one of ${PACKAGE_STATUSES.join(', ')}`);
      }
      fields.push(field);
      params.push(checkFilterText(field, value));
    }
    if (filter.cursor !== undefined) {
      const [createdAt = '', id = ''] = decodeCursor(filter.cursor, 2);
      if (!isUuid(id) || !isTimestamp(createdAt)) {
        throw new InvalidInputError('cursor', 'is not a cursor this server returned');
      }
      // On PostgreSQL the cursor's key leads with the first filter's value (see LIST_PACKAGES).
      const lead = this.database.dialect === 'postgres' ? params.slice(0, Math.min(1, fields.length)) : [];
      params.push(...lead, createdAt, id);
    }
    const sql = LIST_PACKAGES[this.database.dialect].get(listKey(fields, filter.cursor !== undefined));
    if (sql === undefined) throw new Error('no statement for this filter');
    const rows = await this.database.read((tx) => tx.query(sql, [...params, limit + 1]));
    return toPage(rows, limit, toPackageRecord, (item) => [item.created_at, item.id]);
  }

  /** The package whose manifest has this content address (`blake3:<hex>`). */
  async resolveContentAddress(address: string): Promise<PackageRecord> {
    checkContentAddress(address);
    return this.database.read(async (tx) => {
      const [row] = await tx.query(`${PACKAGE_SELECT} WHERE p.manifest_digest = ?`, [address.slice(7)]);
      if (!row) throw new ManifestNotFoundError(address);
      return toPackageRecord(row);
    });
  }

  /** The files of a package in the order of their paths' UTF-8 bytes. */
  async listFiles(packageId: string, page: PageRequest = {}): Promise<Page<FileRecord>> {
    checkId('package_id', packageId);
    const limit = checkLimit(page.limit);
    const after = page.cursor === undefined ? undefined : cursorPath(decodeCursor(page.cursor, 1)[0]);
    const rows = await this.database.read(async (tx) => {
      await requirePackageStatus(tx, packageId);
      return after === undefined
        ? tx.query(`${FILE_SELECT} WHERE f.package_id = ? ORDER BY f.relative_path LIMIT ?`, [
            packageId,
            limit + 1,
          ])
        : tx.query(
            `${FILE_SELECT} WHERE f.package_id = ? AND f.relative_path > ? ORDER BY f.relative_path LIMIT ?`,
            [packageId, after, limit + 1],
          );
    });
    return toPage(rows, limit, toFileRecord, (item) => [item.relative_path]);
  }

  /**
   * The manifest of a finalized package, by package id or content address: the finalize event's payload byte for
   * byte (`cbor`), or its RFC 8785 projection (`json`).
   */
  async getManifestBytes(ref: string, format: ManifestFormat = 'cbor'): Promise<ManifestBytes> {
    if (!MANIFEST_FORMATS.includes(format)) throw new InvalidInputError('format', 'must be cbor or json');
    const byAddress = ref.startsWith('blake3:');
    const key = byAddress ? checkContentAddress(ref).slice('blake3:'.length) : checkId('package_id', ref);
    const found = await this.database.read(async (tx) => {
      const [row] = await tx.query(
        byAddress
          ? 'SELECT id, status, manifest_digest FROM artifact_packages WHERE manifest_digest = ?'
          : 'SELECT id, status, manifest_digest FROM artifact_packages WHERE id = ?',
        [key],
      );
      if (!row) throw byAddress ? new ManifestNotFoundError(ref) : new PackageNotFoundError(ref);
      const id = asString(row.id);
      // A package that expired or was deleted after its finalization keeps its manifest: it is in the log.
      if (row.manifest_digest === null) {
        throw new IllegalPackageStateError(id, asStatus(row.status), 'read the manifest');
      }
      const event = await this.eventLog.firstOfSubject(tx, 'package', id, PACKAGE_FINALIZED);
      if (!event)
        throw new Error(`package ${id} was finalized but its ${PACKAGE_FINALIZED} event is missing`);
      return { id, payload: event.payload, digest: asString(row.manifest_digest) };
    });
    return {
      package_id: found.id,
      content_address: `blake3:${found.digest}`,
      format,
      bytes: format === 'cbor' ? found.payload : Buffer.from(manifestJson(found.payload), 'utf8'),
    };
  }

  /** A file's metadata, by id. */
  async findFile(fileId: string): Promise<FileRecord> {
    checkId('file_id', fileId);
    return this.database.read((tx) => requireFile(tx, fileId));
  }

  /** A file's metadata, by its package and path (the path is NFC-normalized first, as at ingest). */
  async findFileByPath(packageId: string, relativePath: string): Promise<FileRecord> {
    checkId('package_id', packageId);
    const path = normalizeRelativePath(relativePath);
    return this.database.read(async (tx) => {
      await requirePackageStatus(tx, packageId);
      const [row] = await tx.query(`${FILE_SELECT} WHERE f.package_id = ? AND f.relative_path = ?`, [
        packageId,
        path,
      ]);
      if (!row) throw new FileNotFoundError(`${JSON.stringify(path)} in package ${packageId}`);
      return toFileRecord(row);
    });
  }
}

function isTimestamp(text: string): boolean {
  try {
    parseTimestamp(text);
    return true;
  } catch {
    return false;
  }
}

/** The path in a file cursor, checked like any path, so nothing odd reaches SQL. */
function cursorPath(path: string | undefined): string {
  try {
    return normalizeRelativePath(path);
  } catch {
    throw new InvalidInputError('cursor', 'is not a cursor this server returned');
  }
}
