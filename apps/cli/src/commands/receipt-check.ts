import {
  blake3,
  contentAddress,
  decodeCbor,
  leafHash,
  parseVerifierKey,
  toHex,
  verifyInclusion,
  type CborValue,
  type ParsedCheckpoint,
  type ParsedVerifierKey,
} from '@artifactstore/codec';
import { decodeManifest, type Manifest } from '@artifactstore/registry/rules';
import type { PackageReceipt } from '../artifact-client.js';
import { CliError } from '../cli.errors.js';
import { openCheckpoint } from '../signed-checkpoint.js';

/** The event whose payload is a package's manifest: the one entry of the log that a receipt proves. */
const PACKAGE_FINALIZED = 'v1.package.finalized';
const DIGEST_LENGTH = 32;
/** Strict RFC 4648 §4 base64; a spelling Buffer.from would also accept, but that is not canonical, is refused. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** What a receipt must be of: the package a reference named, by its id, its content address or both. */
export interface ReceiptExpectation {
  readonly packageId?: string;
  readonly contentAddress?: string;
  /** How the user named the package, for messages (`web:stable`); the id or address otherwise. */
  readonly ref?: string;
}

/** A receipt once every check passed: what it proves, and the manifest it carried. */
export interface CheckedReceipt {
  readonly packageId: string;
  readonly leafIndex: number;
  readonly checkpoint: ParsedCheckpoint;
  /** The signed note, as received: what the checkpoint memory keeps. */
  readonly checkpointNote: string;
  readonly manifest: Manifest;
  readonly manifestBytes: Buffer;
  readonly contentAddress: string;
}

/** The fields of a log entry (docs/formats.md), as decoded from a receipt. */
interface LogEntry {
  readonly sequence: number;
  readonly eventType: string;
  readonly subjectKind: string;
  readonly subjectId: string;
  readonly payloadDigest: Uint8Array;
}

/** `--log-key`: a verifier key, `<origin>+<key id>+<base64(0x01 ‖ public key)>`, as `log-key` prints it. */
export function parseLogKey(text: string): ParsedVerifierKey {
  try {
    return parseVerifierKey(text.trim());
  } catch (error) {
    throw new CliError('invalid_input', `--log-key is not a verifier key: ${messageOf(error)}`);
  }
}

/**
 * A receipt file's text: not JSON at all is a usage mistake (exit 1, `invalid_input`); JSON that lacks a receipt's
 * fields, or whose bytes are not canonical base64, is a damaged receipt (exit 4, `receipt_invalid`).
 */
export function parseReceiptText(text: string, source: string): PackageReceipt {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new CliError('invalid_input', `${source} is not JSON (${messageOf(error)}): expected a receipt`);
  }
  return asReceipt(value, source);
}

/** A receipt from JSON (a file, or the server's answer), its shape checked; its content is checkReceipt's. */
export function asReceipt(value: unknown, source: string): PackageReceipt {
  const fail = (what: string): never => {
    throw new CliError('receipt_invalid', `${source} is not a receipt: ${what}`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('not a JSON object');
  const fields = value as Record<string, unknown>;
  const text = (name: string): string => {
    const field = fields[name];
    return typeof field === 'string' ? field : fail(`${name} is not a string`);
  };
  const leafIndex = fields.leaf_index;
  if (typeof leafIndex !== 'number' || !Number.isSafeInteger(leafIndex) || leafIndex < 0) {
    return fail('leaf_index is not an integer ≥ 0');
  }
  const proof = fields.inclusion_proof;
  if (!Array.isArray(proof) || !proof.every((hash) => typeof hash === 'string')) {
    return fail('inclusion_proof is not an array of strings');
  }
  return {
    package_id: text('package_id'),
    leaf_index: leafIndex,
    entry: text('entry'),
    manifest: text('manifest'),
    checkpoint: text('checkpoint'),
    inclusion_proof: proof,
  };
}

/**
 * Checks a receipt with no server, each step against the one before, and names the first that fails
 * (`receipt_invalid`, exit 4):
 *
 * 1. the checkpoint is a note signed by `verifier`, and its origin is the key's name (C2SP tlog-checkpoint: a
 *    log's key is named after its origin, so a checkpoint cannot be passed off as another log's);
 * 2. the entry is the `v1.package.finalized` event of the receipt's package, and of the package expected;
 * 3. the manifest's BLAKE3 is the entry's payload digest, so the content address is what the log recorded, and
 *    it is the address expected; the manifest is of that package;
 * 4. the inclusion proof leads from the entry's leaf hash to the checkpoint's root.
 *
 * Pure: reads nothing, remembers nothing (CheckpointMemory does that with the checkpoint returned).
 */
export function checkReceipt(
  receipt: PackageReceipt,
  verifier: ParsedVerifierKey,
  expected: ReceiptExpectation,
): CheckedReceipt {
  const checkpoint = openCheckpoint(receipt.checkpoint, verifier, 'receipt_invalid');

  const entryBytes = base64Field(receipt.entry, 'entry');
  const entry = decodeLogEntry(entryBytes);
  if (
    entry.eventType !== PACKAGE_FINALIZED ||
    entry.subjectKind !== 'package' ||
    entry.subjectId !== receipt.package_id
  ) {
    throw invalid(
      `the entry is event ${entry.sequence}, ${entry.eventType} of ${entry.subjectKind} ${entry.subjectId}, not the ${PACKAGE_FINALIZED} of package ${receipt.package_id}`,
    );
  }
  if (expected.packageId !== undefined && receipt.package_id !== expected.packageId) {
    throw invalid(
      `the receipt is of package ${receipt.package_id}, not of ${describeExpected(expected.ref, expected.packageId)}`,
    );
  }

  const manifestBytes = base64Field(receipt.manifest, 'manifest');
  const digest = blake3(manifestBytes);
  if (!digest.equals(entry.payloadDigest)) {
    throw invalid(
      `the manifest's BLAKE3 is ${toHex(digest)}, but the entry's payload digest is ${toHex(entry.payloadDigest)}`,
    );
  }
  const address = contentAddress(digest);
  if (expected.contentAddress !== undefined && address !== expected.contentAddress) {
    throw invalid(
      `the receipt is of ${address}, not of ${describeExpected(expected.ref, expected.contentAddress)}`,
    );
  }
  let manifest: Manifest;
  try {
    manifest = decodeManifest(manifestBytes);
  } catch (error) {
    throw invalid(`the manifest does not decode: ${messageOf(error)}`);
  }
  if (manifest.package.id !== receipt.package_id) {
    throw invalid(`the manifest is of package ${manifest.package.id}, not ${receipt.package_id}`);
  }

  const proof = receipt.inclusion_proof.map((hash, index) => base64Field(hash, `inclusion_proof[${index}]`));
  if (receipt.leaf_index >= checkpoint.size) {
    throw invalid(`entry ${receipt.leaf_index} is not in the checkpoint's tree of size ${checkpoint.size}`);
  }
  if (!verifyInclusion(receipt.leaf_index, checkpoint.size, leafHash(entryBytes), proof, checkpoint.root)) {
    throw invalid(
      `the inclusion proof of entry ${receipt.leaf_index} does not lead to the root of the checkpoint of size ${checkpoint.size}`,
    );
  }

  return {
    packageId: receipt.package_id,
    leafIndex: receipt.leaf_index,
    checkpoint,
    checkpointNote: receipt.checkpoint,
    manifest,
    manifestBytes,
    contentAddress: address,
  };
}

/** [sequence, event_type, subject_kind, subject_id, actor, created_at, payload_digest] in canonical CBOR. */
function decodeLogEntry(bytes: Buffer): LogEntry {
  let value: CborValue;
  try {
    value = decodeCbor(bytes);
  } catch (error) {
    throw invalid(`the entry is not CBOR: ${messageOf(error)}`);
  }
  if (!Array.isArray(value) || value.length !== 7) {
    throw invalid('the entry is not a log entry (an array of 7 fields)');
  }
  const [sequence, eventType, subjectKind, subjectId, actor, createdAt, payloadDigest] =
    value as readonly CborValue[];
  if (
    typeof sequence !== 'number' ||
    typeof eventType !== 'string' ||
    typeof subjectKind !== 'string' ||
    typeof subjectId !== 'string' ||
    typeof actor !== 'string' ||
    typeof createdAt !== 'string' ||
    !(payloadDigest instanceof Uint8Array) ||
    payloadDigest.length !== DIGEST_LENGTH
  ) {
    throw invalid('the entry is not a log entry (a field has the wrong type)');
  }
  return { sequence, eventType, subjectKind, subjectId, payloadDigest };
}

function base64Field(text: string, field: string): Buffer {
  const bytes = BASE64.test(text) ? Buffer.from(text, 'base64') : undefined;
  if (bytes?.toString('base64') !== text) throw invalid(`${field} is not canonical base64`);
  return bytes;
}

function describeExpected(ref: string | undefined, value: string): string {
  return ref === undefined || ref === value ? value : `${value} (${ref})`;
}

function invalid(message: string): CliError {
  return new CliError('receipt_invalid', message);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
