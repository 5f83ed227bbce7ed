import { Injectable } from '@nestjs/common';
import { AppConfig } from '@artifactstore/config';
import { Database, asNumber, asString, asTimestamp, type Row, type Tx } from '@artifactstore/db';
import { EventLog } from '@artifactstore/events';
import {
  TAG_DELETED,
  TAG_MOVED,
  ViewProjector,
  tagDeletedEvent,
  tagMovedEvent,
  tagSubject,
} from '@artifactstore/views';
import { decodeCbor, type CborMap } from '@artifactstore/codec';
import { checkContentAddress, checkId, checkLabel } from './input-rules.js';
import { checkLimit, decodeCursor, toPage, type Page } from './page-cursor.js';
import { PACKAGE_SELECT, asStatus, toPackageRecord, type PackageRecord } from './records.js';
import {
  IllegalPackageStateError,
  InvalidInputError,
  ManifestNotFoundError,
  PackageNotFoundError,
  TagImmutableError,
  TagNameMismatchError,
  TagNotFoundError,
} from './registry.errors.js';

/** A tag as the registry shows it: where it points, and its last move. */
export interface TagRecord {
  readonly name: string;
  readonly tag: string;
  readonly package: PackageRecord;
  readonly moved_at: string;
  readonly moved_by: string;
}

/** One entry of a tag's history, from the log, newest first. */
export interface TagMove {
  readonly sequence: number;
  readonly event_type: string;
  /** Null for a deletion. */
  readonly package_id: string | null;
  readonly previous_package_id: string | null;
  readonly at: string;
  readonly by: string;
}

/** What a move did: the tag, and whether it was created (false: moved, or already there). */
export interface TagMoveResult {
  readonly tag: TagRecord;
  readonly created: boolean;
}

/** Docker's tag grammar: 1–128 of `[A-Za-z0-9_.-]`, not starting with `.` or `-`. */
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/**
 * Tags: named pointers from `<name>:<tag>` to a finalized package of that name, each move a `v1.tag.moved` event
 * and each removal a `v1.tag.deleted`, so a tag's history is its stream in the log. Moves and removals take the
 * append lock before they read the tag, so of two concurrent moves each records the other as its previous
 * package. Tags matching ARTIFACTSTORE_IMMUTABLE_TAGS cannot move or go once set.
 */
@Injectable()
export class Tags {
  private readonly immutable: readonly RegExp[];

  constructor(
    private readonly database: Database,
    private readonly eventLog: EventLog,
    private readonly projector: ViewProjector,
    config: AppConfig,
  ) {
    this.immutable = config.immutableTags.map(globPattern);
  }

  /** Points the tag at `packageRef` (a package id or content address), which must be finalized and of the name. */
  async moveTag(name: string, tag: string, packageRef: unknown, actor: string): Promise<TagMoveResult> {
    checkTagName(name, tag);
    checkLabel('actor', actor);
    if (typeof packageRef !== 'string')
      throw new InvalidInputError('package', 'must be a package id or content address');
    return this.database.write(async (tx) => {
      await this.eventLog.lockAppends(tx);
      const target = await findPackage(tx, packageRef);
      if (target.name !== name) throw new TagNameMismatchError(name, tag, target.id, target.name);
      if (target.status !== 'finalized') throw new IllegalPackageStateError(target.id, target.status, 'tag');
      const current = await currentTag(tx, name, tag);
      const previous = current ? asString(current.package_id) : null;
      if (previous === target.id) return { tag: await requireTag(tx, name, tag), created: false };
      if (previous !== null) this.checkMutable(name, tag);
      await this.projector.appendAndApply(
        tx,
        tagMovedEvent(actor, { name, tag, package_id: target.id, previous_package_id: previous }),
      );
      return { tag: await requireTag(tx, name, tag), created: previous === null };
    });
  }

  async deleteTag(name: string, tag: string, actor: string): Promise<void> {
    checkTagName(name, tag);
    checkLabel('actor', actor);
    await this.database.write(async (tx) => {
      await this.eventLog.lockAppends(tx);
      const current = await currentTag(tx, name, tag);
      if (!current) throw new TagNotFoundError(name, tag);
      this.checkMutable(name, tag);
      await this.projector.appendAndApply(
        tx,
        tagDeletedEvent(actor, { name, tag, previous_package_id: asString(current.package_id) }),
      );
    });
  }

  async getTag(name: string, tag: string): Promise<TagRecord> {
    checkTagName(name, tag);
    return this.database.read((tx) => requireTag(tx, name, tag));
  }

  /** The package a tag points at now. */
  async resolveTag(name: string, tag: string): Promise<PackageRecord> {
    return (await this.getTag(name, tag)).package;
  }

  /** A name's tags in the order of their bytes. */
  async listTags(name: string, page: { limit?: number; cursor?: string } = {}): Promise<Page<TagRecord>> {
    checkLabel('name', name);
    const limit = checkLimit(page.limit);
    const after = page.cursor === undefined ? undefined : decodeCursor(page.cursor, 1)[0];
    const records = await this.database.read(async (tx) => {
      const rows = await tx.query(
        `${TAG_SELECT} WHERE t.name = ?${after === undefined ? '' : ' AND t.tag > ?'} ORDER BY t.tag LIMIT ?`,
        after === undefined ? [name, limit + 1] : [name, after, limit + 1],
      );
      const ids = [...new Set(rows.map((row) => asString(row.package_id)))];
      const packages =
        ids.length === 0
          ? []
          : await tx.query(`${PACKAGE_SELECT} WHERE p.id IN (${ids.map(() => '?').join(', ')})`, ids);
      const byId = new Map(packages.map((row) => [asString(row.id), toPackageRecord(row)]));
      return rows.map((row): TagRecord => {
        const pkg = byId.get(asString(row.package_id));
        if (!pkg)
          throw new Error(`tag ${name}:${asString(row.tag)} points at a package the views do not have`);
        return { ...toTagFields(row), package: pkg };
      });
    });
    return toPage(
      records,
      limit,
      (record) => record,
      (item) => [item.tag],
    );
  }

  /** Every move and removal of the tag, newest first, read from the log (the tag's stream). */
  async tagHistory(
    name: string,
    tag: string,
    page: { limit?: number; cursor?: string } = {},
  ): Promise<Page<TagMove>> {
    checkTagName(name, tag);
    const limit = checkLimit(page.limit);
    const before = page.cursor === undefined ? undefined : cursorSequence(page.cursor);
    const rows = await this.database.read((tx) =>
      tx.query(
        `SELECT sequence, event_type, actor, payload, created_at FROM events
          WHERE subject_kind = 'tag' AND subject_id = ?${before === undefined ? '' : ' AND sequence < ?'}
            AND event_type IN (?, ?)
          ORDER BY sequence DESC LIMIT ?`,
        before === undefined
          ? [tagSubject(name, tag), TAG_MOVED, TAG_DELETED, limit + 1]
          : [tagSubject(name, tag), before, TAG_MOVED, TAG_DELETED, limit + 1],
      ),
    );
    return toPage(rows, limit, toTagMove, (item) => [String(item.sequence)]);
  }

  private checkMutable(name: string, tag: string): void {
    if (this.immutable.some((pattern) => pattern.test(tag))) throw new TagImmutableError(name, tag);
  }
}

/** A tag glob as a regular expression over the whole tag: `*` any run of characters, `?` exactly one. */
function globPattern(glob: string): RegExp {
  // Patterns are ASCII (the configuration checks them): only `.` and `-` need escaping.
  const body = glob.replace(/[.-]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

const TAG_SELECT = `SELECT t.name, t.tag, t.moved_at, t.moved_by, t.package_id FROM tags t`;

/** The name must be a package name (a label) and the tag follow the grammar. */
export function checkTagName(name: string, tag: string): void {
  checkLabel('name', name);
  if (typeof tag !== 'string' || !TAG.test(tag)) {
    throw new InvalidInputError(
      'tag',
      'must be 1 to 128 of A-Z a-z 0-9 _ . - and start with a letter, a digit or _',
    );
  }
}

async function currentTag(tx: Tx, name: string, tag: string): Promise<Row | undefined> {
  const [row] = await tx.query('SELECT package_id FROM tags WHERE id = ?', [tagSubject(name, tag)]);
  return row;
}

async function requireTag(tx: Tx, name: string, tag: string): Promise<TagRecord> {
  const [row] = await tx.query(`${TAG_SELECT} WHERE t.id = ?`, [tagSubject(name, tag)]);
  if (!row) throw new TagNotFoundError(name, tag);
  const [pkg] = await tx.query(`${PACKAGE_SELECT} WHERE p.id = ?`, [asString(row.package_id)]);
  if (!pkg) throw new Error(`tag ${name}:${tag} points at a package the views do not have`);
  return { ...toTagFields(row), package: toPackageRecord(pkg) };
}

function toTagFields(row: Row): Omit<TagRecord, 'package'> {
  return {
    name: asString(row.name),
    tag: asString(row.tag),
    moved_at: asTimestamp(row.moved_at),
    moved_by: asString(row.moved_by),
  };
}

function toTagMove(row: Row): TagMove {
  const payload = decodeCbor(Buffer.from(row.payload as Uint8Array)) as CborMap;
  const event_type = asString(row.event_type);
  const moved = event_type === TAG_MOVED;
  return {
    sequence: asNumber(row.sequence),
    event_type,
    package_id: moved ? asString(payload.package_id) : null,
    previous_package_id:
      payload.previous_package_id === null || payload.previous_package_id === undefined
        ? null
        : asString(payload.previous_package_id),
    at: asTimestamp(row.created_at),
    by: asString(row.actor),
  };
}

function cursorSequence(cursor: string): number {
  const [text = ''] = decodeCursor(cursor, 1);
  const sequence = Number(text);
  if (!Number.isSafeInteger(sequence) || sequence < 1) {
    throw new InvalidInputError('cursor', 'is not a cursor this server returned');
  }
  return sequence;
}

/** A package by id or content address, in the writing transaction. */
async function findPackage(tx: Tx, ref: string): Promise<PackageRecord> {
  const byAddress = ref.startsWith('blake3:');
  const key = byAddress ? checkContentAddress(ref).slice('blake3:'.length) : checkId('package', ref);
  const [row] = await tx.query(`${PACKAGE_SELECT} WHERE ${byAddress ? 'p.manifest_digest' : 'p.id'} = ?`, [
    key,
  ]);
  if (!row) throw byAddress ? new ManifestNotFoundError(ref) : new PackageNotFoundError(ref);
  asStatus(row.status);
  return toPackageRecord(row);
}
