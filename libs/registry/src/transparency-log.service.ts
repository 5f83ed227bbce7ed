import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import {
  consistencyProofPlan,
  encodeEntryBundle,
  foldSubtrees,
  formatCheckpoint,
  inclusionProofPlan,
  rootOfLeaves,
  rootPlan,
  EMPTY_TREE_ROOT,
  TILE_HEIGHT,
  TILE_WIDTH,
  type Subtree,
} from '@artifactstore/codec';
import { AppConfig } from '@artifactstore/config';
import { Database, asBytes, asNumber, asString, asTimestamp, type Tx } from '@artifactstore/db';
import { EventLog, encodeLogEntry } from '@artifactstore/events';
import { PACKAGE_FINALIZED, RegistryViewWriter } from '@artifactstore/views';
import { checkId } from './input-rules.js';
import { InvalidInputError, IllegalPackageStateError, LogRangeError } from './registry.errors.js';
import { LogSigningKey } from './log-signing-key.js';
import { requirePackageStatus } from './view-reads.js';

/** A signed checkpoint: the tree size, its root, and the signed note that commits to both. */
export interface Checkpoint {
  readonly size: number;
  readonly root: Buffer;
  /** The C2SP signed note: origin, size and base64 root on three lines, a blank line, the signature line. */
  readonly note: string;
}

/** Everything needed to show, offline, that a package's finalization is in the log a checkpoint signs. */
export interface Receipt {
  readonly package_id: string;
  readonly leaf_index: number;
  /** The `v1.package.finalized` event's log entry; its payload digest is the package's content address. */
  readonly entry: Buffer;
  /** The manifest (canonical CBOR), the event's payload: its BLAKE3 is the entry's payload digest. */
  readonly manifest: Buffer;
  readonly checkpoint: Checkpoint;
  readonly inclusion_proof: readonly Buffer[];
}

/** A receipt as the API and the CLI write it: bytes in base64, the checkpoint as its note text. */
export interface ReceiptJson {
  readonly package_id: string;
  readonly leaf_index: number;
  readonly entry: string;
  readonly manifest: string;
  readonly checkpoint: string;
  readonly inclusion_proof: string[];
}

export function receiptJson(receipt: Receipt): ReceiptJson {
  return {
    package_id: receipt.package_id,
    leaf_index: receipt.leaf_index,
    entry: receipt.entry.toString('base64'),
    manifest: receipt.manifest.toString('base64'),
    checkpoint: receipt.checkpoint.note,
    inclusion_proof: receipt.inclusion_proof.map((hash) => hash.toString('base64')),
  };
}

export interface ConsistencyProof {
  readonly from: number;
  readonly to: number;
  readonly proof: readonly Buffer[];
}

/** A tile or entry bundle, and whether it is full (and so never changes). */
export interface TileBytes {
  readonly bytes: Buffer;
  readonly full: boolean;
}

/** Committed events the tree catches up with per transaction at startup. */
const CATCH_UP_BATCH = 5_000;
/** Checkpoints kept signed, newest first: most requests ask for the head, which moves on each append. */
const SIGNED_CHECKPOINTS_KEPT = 8;

/**
 * The transparency log (C2SP tlog-checkpoint and tlog-tiles over RFC 9162's Merkle tree): signed checkpoints,
 * tiles, entry bundles, inclusion and consistency proofs, and receipts for finalized packages. The tree is a view
 * kept in each append's transaction (LogTreeWriter); this serves it, reading in one snapshot per request.
 */
@Injectable()
export class TransparencyLog implements OnApplicationBootstrap {
  private readonly logger = new Logger('transparency');
  private readonly key: LogSigningKey;
  private readonly signed = new Map<string, Checkpoint>();

  constructor(
    private readonly database: Database,
    private readonly eventLog: EventLog,
    private readonly viewWriter: RegistryViewWriter,
    config: AppConfig,
  ) {
    this.key = LogSigningKey.load(config);
  }

  /** A tree behind the log (a store from before the tree) catches up before the first request. */
  async onApplicationBootstrap(): Promise<void> {
    let added = 0;
    for (;;) {
      const batch = await this.database.write(async (tx) => {
        await this.eventLog.lockAppends(tx);
        return this.viewWriter.catchUpTree(tx, CATCH_UP_BATCH);
      });
      added += batch;
      if (batch < CATCH_UP_BATCH) break;
    }
    if (added > 0) this.logger.log(`log tree: added ${added} leaves for events it lacked`);
    this.logger.log(`transparency log ${this.key.origin}, verifier key ${this.key.verifierKey}`);
  }

  get origin(): string {
    return this.key.origin;
  }

  /** The verifier key of the checkpoints, in the signed-note format. */
  get verifierKey(): string {
    return this.key.verifierKey;
  }

  /** The checkpoint of the whole log as it stands. */
  checkpoint(): Promise<Checkpoint> {
    return this.database.read(async (tx) => this.checkpointAt(new TreeReader(tx, await treeSize(tx))));
  }

  /**
   * Tile `index` of tile level `level` (the hashes of tree level 8·level), `width` hashes wide (256 = full), as
   * tlog-tiles lays it out. A partial tile is served once the log holds its `width` hashes: they never change.
   */
  tile(level: number, index: number, width: number): Promise<TileBytes> {
    return this.database.read(async (tx) => {
      const size = await treeSize(tx);
      const available = Math.floor(size / TILE_WIDTH ** level) - index * TILE_WIDTH;
      if (available < width) {
        throw new LogRangeError(
          `tile ${level}/${index} of width ${width} is beyond the tree (size ${size})`,
          size,
        );
      }
      const hashes = await readTile(tx, level, index, width);
      return { bytes: Buffer.concat(hashes), full: width === TILE_WIDTH };
    });
  }

  /** The log entries of leaves [256·index, 256·index + width), each behind its 2-byte big-endian length. */
  entryBundle(index: number, width: number): Promise<TileBytes> {
    return this.database.read(async (tx) => {
      const size = await treeSize(tx);
      if (size - index * TILE_WIDTH < width) {
        throw new LogRangeError(
          `entry bundle ${index} of width ${width} is beyond the tree (size ${size})`,
          size,
        );
      }
      const start = index * TILE_WIDTH;
      // Leaves are consecutive events, so the sequences of a bundle's first and last leaf bound its events: a range
      // of the log's primary key, whatever the planner knows of the tables' sizes.
      const bounds = await tx.query(
        'SELECT leaf_index, sequence FROM log_leaves WHERE leaf_index IN (?, ?)',
        [start, start + width - 1],
      );
      const sequenceOf = (leaf: number): number =>
        asNumber(bounds.find((row) => asNumber(row.leaf_index) === leaf)?.sequence);
      const rows = await tx.query(
        `SELECT sequence, event_type, subject_kind, subject_id, actor, created_at, payload_digest
         FROM events WHERE sequence >= ? AND sequence <= ? ORDER BY sequence`,
        [sequenceOf(start), sequenceOf(start + width - 1)],
      );
      if (rows.length !== width)
        throw new Error(`entry bundle ${index} has ${rows.length} of ${width} events`);
      const entries = rows.map((row) =>
        encodeLogEntry({
          sequence: asNumber(row.sequence),
          event_type: asString(row.event_type),
          subject_kind: asString(row.subject_kind),
          subject_id: asString(row.subject_id),
          actor: asString(row.actor),
          created_at: asTimestamp(row.created_at),
          payload_digest: asBytes(row.payload_digest),
        }),
      );
      return { bytes: encodeEntryBundle(entries), full: width === TILE_WIDTH };
    });
  }

  /** RFC 9162 §2.1.4 proof that the tree of size `to` (default: the whole log) extends the one of size `from`. */
  consistency(from: number, to?: number): Promise<ConsistencyProof> {
    return this.database.read(async (tx) => {
      const size = await treeSize(tx);
      const target = to ?? size;
      checkTreeSize('from', from, 1);
      checkTreeSize('to', target, from);
      if (target > size) throw new LogRangeError(`the log has ${size} entries, not ${target}`, size);
      const reader = new TreeReader(tx, target);
      const proof: Buffer[] = [];
      for (const element of consistencyProofPlan(from, target)) proof.push(await reader.rangeHash(element));
      return { from, to: target, proof };
    });
  }

  /**
   * The receipt of a finalized package: its `v1.package.finalized` entry, an inclusion proof, and the checkpoint
   * it leads to, of the whole log or of the tree size `size` (which must include the entry). A package that
   * expired or was deleted after its finalization keeps its receipt: the log does not forget.
   */
  receipt(packageId: string, size?: number): Promise<Receipt> {
    checkId('id', packageId);
    return this.database.read(async (tx) => {
      const status = await requirePackageStatus(tx, packageId);
      const event = await this.eventLog.firstOfSubject(tx, 'package', packageId, PACKAGE_FINALIZED);
      if (event === undefined) throw new IllegalPackageStateError(packageId, status, 'issue a receipt');
      const [leaf] = await tx.query('SELECT leaf_index FROM log_leaves WHERE sequence = ?', [event.sequence]);
      if (leaf === undefined)
        throw new LogRangeError(`event ${event.sequence} is not in the log tree yet`, 0);
      const leafIndex = asNumber(leaf.leaf_index);
      const current = await treeSize(tx);
      const target = size ?? current;
      checkTreeSize('size', target, leafIndex + 1);
      if (target > current) throw new LogRangeError(`the log has ${current} entries, not ${target}`, current);
      const reader = new TreeReader(tx, target);
      const proof: Buffer[] = [];
      for (const element of inclusionProofPlan(leafIndex, target))
        proof.push(await reader.rangeHash(element));
      return {
        package_id: packageId,
        leaf_index: leafIndex,
        entry: encodeLogEntry(event),
        manifest: event.payload,
        checkpoint: await this.checkpointAt(reader),
        inclusion_proof: proof,
      };
    });
  }

  /**
   * The checkpoint of the tree `reader` reads. The root is computed every time (a few tile reads) and only the
   * signature is remembered, by size and root: a database restored under a running server never gets an old note.
   */
  private async checkpointAt(reader: TreeReader): Promise<Checkpoint> {
    const plan = rootPlan(reader.size);
    const root = plan.length === 0 ? EMPTY_TREE_ROOT : await reader.rangeHash(plan);
    const key = `${reader.size}:${root.toString('hex')}`;
    const known = this.signed.get(key);
    if (known) return known;
    const note = this.key.sign(formatCheckpoint({ origin: this.key.origin, size: reader.size, root }));
    const checkpoint = { size: reader.size, root, note };
    this.signed.set(key, checkpoint);
    for (const old of this.signed.keys()) {
      if (this.signed.size <= SIGNED_CHECKPOINTS_KEPT) break;
      this.signed.delete(old);
    }
    return checkpoint;
  }
}

/** The number of leaves: one per committed event, as the transaction sees the log. */
async function treeSize(tx: Tx): Promise<number> {
  const [row] = await tx.query('SELECT leaf_index FROM log_leaves ORDER BY leaf_index DESC LIMIT 1');
  return row === undefined ? 0 : asNumber(row.leaf_index) + 1;
}

function checkTreeSize(field: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new InvalidInputError(field, `must be an integer of at least ${min}`);
  }
}

/** The first `width` hashes of a tile. */
async function readTile(tx: Tx, level: number, index: number, width: number): Promise<Buffer[]> {
  const from = index * TILE_WIDTH;
  const rows =
    level === 0
      ? await tx.query(
          'SELECT hash FROM log_leaves WHERE leaf_index >= ? AND leaf_index < ? ORDER BY leaf_index',
          [from, from + width],
        )
      : await tx.query(
          'SELECT hash FROM log_tile_hashes WHERE level = ? AND idx >= ? AND idx < ? ORDER BY idx',
          [level, from, from + width],
        );
  if (rows.length !== width)
    throw new Error(`log tree tile ${level}/${index} has ${rows.length} of ${width} hashes`);
  return rows.map((row) => asBytes(row.hash));
}

/**
 * The hashes of a tree of `size` leaves, read from its tiles within one transaction: a perfect subtree's hash is
 * the root of a run of hashes of one tile (tree level 8·L + r is 2^r hashes of tile level L), so a proof reads a
 * couple of tiles per tile level, each once.
 */
class TreeReader {
  private readonly tiles = new Map<string, Promise<Buffer[]>>();

  constructor(
    private readonly tx: Tx,
    readonly size: number,
  ) {}

  /** The RFC 9162 hash of the range that `subtrees` (left to right) cover. */
  async rangeHash(subtrees: readonly Subtree[]): Promise<Buffer> {
    const hashes: Buffer[] = [];
    for (const subtree of subtrees) hashes.push(await this.subtreeHash(subtree));
    return foldSubtrees(hashes);
  }

  private async subtreeHash({ level, index }: Subtree): Promise<Buffer> {
    const tileLevel = Math.floor(level / TILE_HEIGHT);
    const span = 2 ** (level % TILE_HEIGHT);
    const first = index * span;
    const tile = Math.floor(first / TILE_WIDTH);
    const hashes = await this.tileHashes(tileLevel, tile);
    const offset = first - tile * TILE_WIDTH;
    return rootOfLeaves(hashes.slice(offset, offset + span));
  }

  private tileHashes(level: number, index: number): Promise<Buffer[]> {
    const key = `${level}/${index}`;
    let hashes = this.tiles.get(key);
    if (hashes === undefined) {
      const stored = Math.floor(this.size / TILE_WIDTH ** level);
      hashes = readTile(this.tx, level, index, Math.min(TILE_WIDTH, stored - index * TILE_WIDTH));
      this.tiles.set(key, hashes);
    }
    return hashes;
  }
}
