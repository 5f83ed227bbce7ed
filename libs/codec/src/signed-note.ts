/**
 * C2SP signed notes (c2sp.org/signed-note) with Ed25519 signatures (type 0x01) only, and the checkpoint text they
 * carry (c2sp.org/tlog-checkpoint). A note is text ending in a newline, a blank line, then one signature line per key:
 * `— <key name> base64(key id ‖ signature)`. The formats are those of golang.org/x/mod/sumdb/note, so that Go
 * tooling and witnesses can check what is signed here.
 */
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { DIGEST_LENGTH } from './digests.js';

/** Thrown for a note, checkpoint or verifier key that is malformed, or whose signature does not verify. */
export class InvalidNoteError extends Error {
  readonly code = 'invalid_note';
  override readonly name = 'InvalidNoteError';
}

/** What {@link openNote} needs to know of a key: its name, 4-byte key id and raw 32-byte Ed25519 public key. */
export interface NoteVerifier {
  readonly name: string;
  readonly keyId: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** A verifier key as {@link parseVerifierKey} returns it. */
export interface ParsedVerifierKey extends NoteVerifier {
  readonly keyId: Buffer;
  readonly publicKey: Buffer;
}

/** The three mandatory lines of a checkpoint: log origin, tree size and RFC 6962 root hash. */
export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly root: Uint8Array;
}

/** A checkpoint as {@link parseCheckpoint} returns it, with any extension lines (opaque, rarely used). */
export interface ParsedCheckpoint extends Checkpoint {
  readonly root: Buffer;
  readonly extensions: string[];
}

const SIGNATURE_TYPE_ED25519 = 0x01;
const KEY_ID_LENGTH = 4;
const ED25519_KEY_LENGTH = 32;
const ED25519_SIGNATURE_LENGTH = 64;
/** The spec asks verifiers to cap the signatures they look at (at least 16); Go's note package stops at 100. */
const MAX_SIGNATURES = 100;
const SIGNATURE_PREFIX = '\u2014 ';
/** DER of SubjectPublicKeyInfo { id-Ed25519 } up to the 32 key bytes (RFC 8410). */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const TREE_SIZE = /^(?:0|[1-9][0-9]*)$/;
const KEY_NAME_FORBIDDEN = /[+\p{White_Space}]/u;

/** The key id of an Ed25519 key: the first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key). */
export function noteKeyId(name: string, publicKey: Uint8Array): Buffer {
  checkRawPublicKey(publicKey);
  return keyIdOf(name, Buffer.concat([Buffer.of(SIGNATURE_TYPE_ED25519), publicKey]));
}

/** The text form of a verifier key, `<name>+<8 hex digits of key id>+<base64(0x01 ‖ public key)>`, as Go spells it. */
export function formatVerifierKey(name: string, publicKey: Uint8Array): string {
  checkKeyName(name);
  const keyId = noteKeyId(name, publicKey);
  const encoded = Buffer.concat([Buffer.of(SIGNATURE_TYPE_ED25519), publicKey]).toString('base64');
  return `${name}+${keyId.toString('hex')}+${encoded}`;
}

/**
 * Parses a verifier key. The key id is recomputed and must match, so a key text that was mangled in transit or pairs
 * a name with someone else's key is refused rather than quietly verifying nothing. InvalidNoteError on anything else
 * than a well-formed Ed25519 verifier key.
 */
export function parseVerifierKey(text: string): ParsedVerifierKey {
  // The base64 may itself contain '+', so only the first two split.
  const first = text.indexOf('+');
  const second = first < 0 ? -1 : text.indexOf('+', first + 1);
  if (second < 0) throw new InvalidNoteError('a verifier key is <name>+<key id>+<base64 key>');
  const name = text.slice(0, first);
  const idHex = text.slice(first + 1, second);
  checkKeyName(name);
  if (!/^[0-9a-fA-F]{8}$/.test(idHex)) {
    throw new InvalidNoteError(`verifier key id is not 8 hex digits: ${idHex}`);
  }
  const encoded = decodeBase64(text.slice(second + 1));
  if (encoded === undefined || encoded.length === 0) throw new InvalidNoteError('verifier key is not base64');
  const keyId = Buffer.from(idHex, 'hex');
  if (!keyIdOf(name, encoded).equals(keyId)) {
    throw new InvalidNoteError(`verifier key id ${idHex} does not match the name and key`);
  }
  if (encoded[0] !== SIGNATURE_TYPE_ED25519) {
    throw new InvalidNoteError(`unsupported verifier key type 0x${encoded.subarray(0, 1).toString('hex')}`);
  }
  const publicKey = encoded.subarray(1);
  if (publicKey.length !== ED25519_KEY_LENGTH) {
    throw new InvalidNoteError(`an Ed25519 verifier key is 32 bytes, got ${publicKey.length}`);
  }
  return { name, keyId, publicKey };
}

/** The raw 32-byte Ed25519 public key (RFC 8032 encoding) of a public or private Ed25519 KeyObject. */
export function rawEd25519PublicKey(key: KeyObject): Buffer {
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new TypeError(`expected an Ed25519 key, got ${key.asymmetricKeyType ?? key.type}`);
  }
  const { x } = (key.type === 'private' ? createPublicKey(key) : key).export({ format: 'jwk' });
  const raw = Buffer.from(x ?? '', 'base64url');
  if (raw.length !== ED25519_KEY_LENGTH) throw new TypeError('Ed25519 key without a 32-byte public part');
  return raw;
}

/** An Ed25519 public KeyObject from its raw 32 bytes, as verifier keys carry them. */
export function ed25519PublicKeyFromRaw(raw: Uint8Array): KeyObject {
  checkRawPublicKey(raw);
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

/**
 * Signs `text` as key `name`, returning the whole note. The text must be non-empty, end with a newline, and hold no
 * control character but newline (nor a lone surrogate, which has no UTF-8). Ed25519 is deterministic, so the same
 * text and key always give the same note.
 */
export function signNote(text: string, name: string, privateKey: KeyObject): string {
  if (!text.endsWith('\n')) throw new InvalidNoteError('note text must be non-empty and end with a newline');
  if (!isNoteText(text)) {
    throw new InvalidNoteError('note text must be UTF-8 without control characters but newline');
  }
  checkKeyName(name);
  if (privateKey.type !== 'private') throw new TypeError('signing needs a private key');
  const keyId = noteKeyId(name, rawEd25519PublicKey(privateKey));
  const signature = sign(null, Buffer.from(text, 'utf8'), privateKey);
  return `${text}\n${SIGNATURE_PREFIX}${name} ${Buffer.concat([keyId, signature]).toString('base64')}\n`;
}

/**
 * Opens a signed note, returning its text once a signature by `verifier` verifies. Signatures by other keys are
 * ignored (a key is its name *and* key id), but every signature line must be well-formed, and a signature by the
 * verifier's key that fails to verify rejects the whole note, as the spec recommends. InvalidNoteError says which.
 */
export function openNote(note: string, verifier: NoteVerifier): { text: string } {
  if (!isNoteText(note)) {
    throw new InvalidNoteError('note must be UTF-8 without control characters but newline');
  }
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw new InvalidNoteError('note has no blank line before its signatures');
  const text = note.slice(0, split + 1);
  const block = note.slice(split + 2);
  if (!block.endsWith('\n')) throw new InvalidNoteError('note must end with a signature line and a newline');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) {
    throw new InvalidNoteError(`note has more than ${MAX_SIGNATURES} signatures`);
  }

  const keyId = Buffer.from(verifier.keyId);
  const key = `${verifier.name}+${keyId.toString('hex')}`;
  const message = Buffer.from(text, 'utf8');
  let verified = 0;
  for (const line of lines) {
    const signature = parseSignatureLine(line);
    if (signature.name !== verifier.name || !signature.keyId.equals(keyId)) continue;
    const valid =
      signature.signature.length === ED25519_SIGNATURE_LENGTH &&
      verify(null, message, ed25519PublicKeyFromRaw(verifier.publicKey), signature.signature);
    if (!valid) throw new InvalidNoteError(`invalid signature by key ${key}`);
    verified += 1;
  }
  if (verified === 0) throw new InvalidNoteError(`note has no signature by key ${key}`);
  return { text };
}

/** The note text of a checkpoint: origin, decimal size and base64 root, each on its own line. */
export function formatCheckpoint({ origin, size, root }: Checkpoint): string {
  if (origin === '' || origin.includes('\n') || !isNoteText(origin)) {
    throw new InvalidNoteError(
      `checkpoint origin must be one non-empty line of text, got ${JSON.stringify(origin)}`,
    );
  }
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new InvalidNoteError(`invalid checkpoint tree size ${size}`);
  }
  if (root.length !== DIGEST_LENGTH) {
    throw new InvalidNoteError(`checkpoint root must be 32 bytes, got ${root.length}`);
  }
  return `${origin}\n${size}\n${Buffer.from(root).toString('base64')}\n`;
}

/**
 * Parses checkpoint note text (as {@link openNote} returns it): at least three non-empty lines, the size in decimal
 * without leading zeros, the root 32 bytes of canonical base64; further non-empty lines are extensions. The origin is
 * not otherwise constrained: the spec only recommends a URL-like name, and the caller compares it with the origin it
 * expects.
 */
export function parseCheckpoint(text: string): ParsedCheckpoint {
  if (!text.endsWith('\n') || !isNoteText(text)) {
    throw new InvalidNoteError('checkpoint must be lines of text');
  }
  const lines = text.slice(0, -1).split('\n');
  const [origin, sizeText, rootText] = lines;
  if (origin === undefined || sizeText === undefined || rootText === undefined) {
    throw new InvalidNoteError('checkpoint must have an origin, a tree size and a root hash line');
  }
  if (lines.includes('')) throw new InvalidNoteError('checkpoint lines must not be empty');
  const size = Number(sizeText);
  if (!TREE_SIZE.test(sizeText) || !Number.isSafeInteger(size)) {
    throw new InvalidNoteError(`invalid checkpoint tree size ${JSON.stringify(sizeText)}`);
  }
  const root = decodeBase64(rootText);
  if (root?.length !== DIGEST_LENGTH) throw new InvalidNoteError('checkpoint root is not 32 bytes of base64');
  return { origin, size, root, extensions: lines.slice(3) };
}

function parseSignatureLine(line: string): { name: string; keyId: Buffer; signature: Buffer } {
  if (!line.startsWith(SIGNATURE_PREFIX)) {
    throw new InvalidNoteError(`not a signature line: ${JSON.stringify(line)}`);
  }
  const rest = line.slice(SIGNATURE_PREFIX.length);
  const space = rest.indexOf(' ');
  const name = space < 0 ? '' : rest.slice(0, space);
  const bytes = space < 0 ? undefined : decodeBase64(rest.slice(space + 1));
  if (!isKeyName(name) || bytes === undefined || bytes.length <= KEY_ID_LENGTH) {
    throw new InvalidNoteError(`malformed signature line: ${JSON.stringify(line)}`);
  }
  return { name, keyId: bytes.subarray(0, KEY_ID_LENGTH), signature: bytes.subarray(KEY_ID_LENGTH) };
}

function keyIdOf(name: string, encodedKey: Uint8Array): Buffer {
  return createHash('sha256')
    .update(name, 'utf8')
    .update('\n')
    .update(encodedKey)
    .digest()
    .subarray(0, KEY_ID_LENGTH);
}

/** Key names are non-empty and hold no '+' and no Unicode space (Go's unicode.IsSpace is the White_Space property). */
function isKeyName(name: string): boolean {
  return name !== '' && !KEY_NAME_FORBIDDEN.test(name) && isNoteText(name);
}

function checkKeyName(name: string): void {
  if (!isKeyName(name)) throw new InvalidNoteError(`invalid key name ${JSON.stringify(name)}`);
}

function checkRawPublicKey(publicKey: Uint8Array): void {
  if (publicKey.length !== ED25519_KEY_LENGTH) {
    throw new InvalidNoteError(`an Ed25519 public key is 32 bytes, got ${publicKey.length}`);
  }
}

/** Well-formed Unicode (so it has a UTF-8 encoding) with no ASCII control character other than newline. */
function isNoteText(text: string): boolean {
  if (!text.isWellFormed()) return false;
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code < 0x20 && code !== 0x0a) return false;
  }
  return true;
}

/** Strict RFC 4648 §4 base64: padded, no other characters, and the one canonical spelling of its bytes. */
function decodeBase64(text: string): Buffer | undefined {
  if (!BASE64.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}
