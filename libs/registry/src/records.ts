import { canonicalJson, type JsonValue, type Timestamp } from '@artifactstore/codec';
import { asNumber, asString, asTimestamp, type Row } from '@artifactstore/db';
import { PACKAGE_STATUSES, type PackageStatus } from './registry.errors.js';

/** A package as the registry shows it. Field names are the wire's (snake_case), so callers pass records through. */
export interface PackageRecord {
  readonly id: string;
  readonly name: string;
  readonly producer: string;
  readonly subject: string;
  readonly retention_class: string;
  readonly status: PackageStatus;
  readonly metadata: { readonly [key: string]: JsonValue };
  readonly created_at: Timestamp;
  readonly finalized_at: Timestamp | null;
  /** When the retention class lets the package go; null while open or held, and for classes that never expire. */
  readonly expires_at: Timestamp | null;
  /** Held packages never expire and cannot be deleted until released. */
  readonly held: boolean;
  readonly hold_reason: string | null;
  /** When the package expired or was deleted, and why (`retention`, `abandoned`, or the deleter's reason). */
  readonly removed_at: Timestamp | null;
  readonly removal_reason: string | null;
  readonly file_count: number;
  readonly total_size: number;
  /** `blake3:<hex>` of the manifest, once finalized. */
  readonly content_address: string | null;
}

/** A file of a package. Digests are lowercase hex. */
export interface FileRecord {
  readonly id: string;
  readonly package_id: string;
  readonly relative_path: string;
  readonly media_type: string;
  readonly size: number;
  readonly blake3: string;
  readonly sha256: string;
  /** `blake3:<hex>` of the bytes. */
  readonly content_address: string;
  readonly created_at: Timestamp;
}

/** The columns PACKAGE_SELECT returns, for callers that add their own WHERE. */
export const PACKAGE_SELECT = `SELECT p.id, p.name, p.producer, p.subject, p.retention_class, p.status, p.metadata,
    p.created_at, p.finalized_at, p.manifest_digest, r.expires_at, p.file_count, p.total_size,
    p.held, p.hold_reason, p.removed_at, p.removal_reason
  FROM artifact_packages p JOIN retention_state r ON r.package_id = p.id`;

export const FILE_SELECT = `SELECT f.id, f.package_id, f.relative_path, f.media_type, f.size, f.blake3, f.sha256,
    f.content_address, f.created_at
  FROM artifact_files f`;

export function toPackageRecord(row: Row): PackageRecord {
  const manifestDigest = row.manifest_digest === null ? null : asString(row.manifest_digest);
  return {
    id: asString(row.id),
    name: asString(row.name),
    producer: asString(row.producer),
    subject: asString(row.subject),
    retention_class: asString(row.retention_class),
    status: asStatus(row.status),
    metadata: asJsonObject(row.metadata),
    created_at: asTimestamp(row.created_at),
    finalized_at: row.finalized_at === null ? null : asTimestamp(row.finalized_at),
    // The views keep a held package's deadline (the collector counts what holds keep); the wire shows none.
    expires_at: row.expires_at === null || asNumber(row.held) === 1 ? null : asTimestamp(row.expires_at),
    held: asNumber(row.held) === 1,
    hold_reason: row.hold_reason === null ? null : asString(row.hold_reason),
    removed_at: row.removed_at === null ? null : asTimestamp(row.removed_at),
    removal_reason: row.removal_reason === null ? null : asString(row.removal_reason),
    file_count: asNumber(row.file_count),
    total_size: asNumber(row.total_size),
    content_address: manifestDigest === null ? null : `blake3:${manifestDigest}`,
  };
}

export function toFileRecord(row: Row): FileRecord {
  return {
    id: asString(row.id),
    package_id: asString(row.package_id),
    relative_path: asString(row.relative_path),
    media_type: asString(row.media_type),
    size: asNumber(row.size),
    blake3: asString(row.blake3),
    sha256: asString(row.sha256),
    content_address: asString(row.content_address),
    created_at: asTimestamp(row.created_at),
  };
}

export function asStatus(value: unknown): PackageStatus {
  if (typeof value === 'string' && (PACKAGE_STATUSES as readonly string[]).includes(value)) {
    return value as PackageStatus;
  }
  throw new TypeError(`unexpected package status ${String(value)}`);
}

/**
 * SQLite holds the RFC 8785 text; pg parses jsonb, whose key order (shorter keys first) differs, so that is put in
 * the same canonical order: both dialects then answer with identical JSON.
 */
export function asJsonObject(value: unknown): { readonly [key: string]: JsonValue } {
  const parsed: unknown = JSON.parse(typeof value === 'string' ? value : canonicalJson(value as JsonValue));
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new TypeError('expected a JSON object column value');
  }
  return parsed as { readonly [key: string]: JsonValue };
}
