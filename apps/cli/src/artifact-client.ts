import type { Readable } from 'node:stream';
import type { JsonValue } from '@artifactstore/codec';
import type {
  AdminJob,
  AdminJobKind,
  EventJson,
  FileRecord,
  GcReport,
  PackageRecord,
  Page,
  ScrubStatus,
  TagMove,
  TagRecord,
} from '@artifactstore/registry';

/** What `push` sends to create a package: the wire's field names, as the registry and the HTTP API take them. */
export interface NewPackage {
  /** The package id to use (`import` keeps a bundle's); the server makes one when absent. */
  readonly id?: string;
  readonly name: string;
  readonly producer: string;
  readonly subject: string;
  readonly retention_class: string;
  readonly metadata: Readonly<Record<string, JsonValue>>;
}

/** What moving a tag did: the tag as it now is, and whether it is new (false: moved, or already there). */
export interface TagMoved {
  readonly tag: TagRecord;
  readonly created: boolean;
}

/** A file to upload: a way to open its bytes, and the digests the receiver must find (hex). */
export interface Upload {
  readonly relativePath: string;
  readonly mediaType: string;
  readonly size: number;
  readonly sha256: string;
  readonly blake3: string;
  /** A new stream of the bytes each call: a request cut before it was answered is sent again with a second one. */
  open(): Readable;
  /** A new stream of the bytes from `offset` on, for a resumable upload that continues where the server stopped. */
  openFrom?(offset: number): Readable;
}

export interface PackageQuery {
  readonly name?: string;
  readonly producer?: string;
  readonly subject?: string;
  readonly status?: string;
  readonly limit?: number;
  readonly cursor?: string;
}

/** An event as the HTTP API shows it (the registry's wire projection). */
export type { EventJson } from '@artifactstore/registry';

/**
 * A replay or verify job as `GET /v1/admin/jobs/{id}` answers it: its progress, then its result (a replay's state
 * digests, a verify's verdict on the chain) or its error.
 */
export type { AdminJob, AdminJobKind, ReplayJobResult, VerifyJobResult } from '@artifactstore/registry';

/** What asking for a job got: the job started, or (`started: false`) the one already running, of either kind. */
export interface JobStart {
  readonly job: AdminJob;
  readonly started: boolean;
}

/** A tag and its history's entries, as `GET /v1/tags/…` answers. */
export type { TagMove, TagRecord } from '@artifactstore/registry';

/** What one garbage collection did (or, dry, would do), as `POST /v1/admin/gc` answers. */
export type { GcReport } from '@artifactstore/registry';

/** The running or last scrub pass: its progress and findings, as `POST` and `GET /v1/admin/scrub` answer. */
export type { ScrubStatus } from '@artifactstore/registry';

/**
 * A finalized package's receipt, as `GET /v1/packages/{id}/receipt` answers and `artifactstore receipt` saves it:
 * enough to show offline that the package's `v1.package.finalized` entry is in the log a signed checkpoint covers.
 * The bytes are base64; nothing in it is trusted until checkReceipt has checked it against a verifier key.
 */
export interface PackageReceipt {
  readonly package_id: string;
  readonly leaf_index: number;
  /** The log entry: canonical CBOR of [sequence, event_type, subject_kind, subject_id, actor, created_at, digest]. */
  readonly entry: string;
  /** The manifest's canonical CBOR: its BLAKE3 is the entry's payload digest and the package's content address. */
  readonly manifest: string;
  /** The C2SP signed note of the checkpoint the inclusion proof leads to. */
  readonly checkpoint: string;
  /** RFC 9162 §2.1.3 inclusion proof, nearest the leaf first. */
  readonly inclusion_proof: readonly string[];
}

/** An RFC 9162 §2.1.4 proof that the log's tree of size `to` extends the one of size `from` (hashes in base64). */
export interface ConsistencyProofJson {
  readonly from: number;
  readonly to: number;
  readonly proof: readonly string[];
}

/**
 * The registry as the CLI sees it. Two implementations: HttpArtifactClient (a server) and LocalArtifactClient
 * (the registry in this process, `--local`); every command is written once against this interface. Failures are
 * CliError with the problem's code, whichever side they come from.
 */
export interface ArtifactClient {
  /**
   * Creates a package. With `idempotencyKey` (one per push), a repeat of the same create (the client's own retry of
   * a request whose answer was lost) answers the package the first one created instead of a second draft.
   */
  createPackage(input: NewPackage, idempotencyKey?: string): Promise<PackageRecord>;
  getPackage(packageId: string): Promise<PackageRecord>;
  /** The finalized package whose manifest has this content address (`blake3:<hex>`). */
  resolveContentAddress(address: string): Promise<PackageRecord>;
  listPackages(query: PackageQuery): Promise<Page<PackageRecord>>;
  listFiles(packageId: string, cursor?: string): Promise<Page<FileRecord>>;
  uploadFile(packageId: string, upload: Upload): Promise<FileRecord>;
  finalizePackage(packageId: string): Promise<{ readonly content_address: string }>;
  /** The manifest's canonical CBOR bytes, as stored; the caller checks their BLAKE3. */
  getManifest(packageId: string): Promise<Buffer>;
  /** The whole file's bytes; the caller verifies them. */
  openFile(file: FileRecord): Promise<Readable>;
  /** Events after `since` in order; with `follow`, keeps waiting for new ones until `signal` aborts. */
  events(since: number, options: { follow: boolean; signal?: AbortSignal }): AsyncIterable<EventJson>;
  /** Deletes a package: an admin any that is not held, a producer only one still `created`. */
  deletePackage(packageId: string, reason: string | undefined): Promise<PackageRecord>;
  /** (admin) Holds a package: it neither expires nor can be deleted until released. */
  holdPackage(packageId: string, reason: string | undefined): Promise<PackageRecord>;
  /** (admin) */
  releasePackage(packageId: string): Promise<PackageRecord>;
  /** (admin) Its expiry is recomputed from its finalization. */
  changeRetention(packageId: string, retentionClass: string): Promise<PackageRecord>;
  /** (admin) Expires due packages and collects unreferenced blobs; with `dryRun`, only reports what would go. */
  collectGarbage(options: { readonly dryRun: boolean }): Promise<GcReport>;
  /** (admin) Starts a pass that reads every stored blob back and checks it against its BLAKE3. */
  startScrub(): Promise<ScrubStatus>;
  /** (admin) */
  scrubStatus(): Promise<ScrubStatus>;
  /** Points `<name>:<tag>` at a finalized package of that name (`packageRef`: its id or content address). */
  moveTag(name: string, tag: string, packageRef: string): Promise<TagMoved>;
  /** (admin) Removes a tag; its history stays in the log. */
  deleteTag(name: string, tag: string): Promise<void>;
  /** Where a tag points, with the package. */
  getTag(name: string, tag: string): Promise<TagRecord>;
  /** A name's tags in byte order. */
  listTags(name: string, cursor?: string): Promise<Page<TagRecord>>;
  /** A tag's moves and removals, newest first. */
  tagHistory(name: string, tag: string, cursor?: string): Promise<Page<TagMove>>;
  /**
   * (admin) Starts a replay (rebuild the views from the log) or verify (check every digest of it) job in the
   * background; a job already running, one at a time per server, is answered instead (`started: false`).
   */
  startJob(kind: AdminJobKind): Promise<JobStart>;
  /** (admin) A running or recently finished job: progress, then result or error. */
  getJob(jobId: string): Promise<AdminJob>;
  /** The receipt of a finalized package, against the whole log or the tree of `size` entries (≥ its leaf). */
  receipt(packageId: string, size?: number): Promise<PackageReceipt>;
  /** The verifier key of the log's checkpoints: `<origin>+<key id>+<base64(0x01 ‖ public key)>`. */
  logKey(): Promise<string>;
  /** Proof that the log's tree of size `to` extends the one of size `from` (1 ≤ from ≤ to). */
  consistency(from: number, to: number): Promise<ConsistencyProofJson>;
  close(): Promise<void>;
}
