import { canonicalJson, isUuid, type JsonValue } from '@artifactstore/codec';
import { CliError } from '../cli.errors.js';

/** The `schema` of a bundle's index: the version of the whole layout. */
export const BUNDLE_SCHEMA = 'artifactstore.bundle.v1';
/** The first entry of every bundle. */
export const INDEX_ENTRY = 'index.json';

const HEX_DIGEST = /^[0-9a-f]{64}$/;
const ADDRESS = /^blake3:[0-9a-f]{64}$/;

/** A package of a bundle as its index lists it: what `import` creates it with, and where its entries are. */
export interface BundleIndexPackage {
  readonly id: string;
  readonly name: string;
  readonly producer: string;
  readonly subject: string;
  /** The source's retention class; the import creates the package in the same class. */
  readonly retention_class: string;
  readonly content_address: string;
  /** `manifests/<hex of the content address>.cbor`. */
  readonly manifest: string;
  /** `receipts/<id>.json`. */
  readonly receipt: string;
}

/** A distinct blob of a bundle: its BLAKE3 (lowercase hex) and size, as every manifest file that has it says. */
export interface BundleIndexBlob {
  readonly blake3: string;
  readonly size: number;
}

/** `index.json`: packages sorted by id, blobs by BLAKE3, serialized as RFC 8785 JSON. */
export interface BundleIndex {
  readonly schema: typeof BUNDLE_SCHEMA;
  readonly packages: readonly BundleIndexPackage[];
  readonly blobs: readonly BundleIndexBlob[];
}

export function manifestEntryName(contentAddress: string): string {
  return `manifests/${contentAddress.slice('blake3:'.length)}.cbor`;
}

export function receiptEntryName(packageId: string): string {
  return `receipts/${packageId}.json`;
}

export function blobEntryName(blake3Hex: string): string {
  return `blobs/${blake3Hex}`;
}

/** The index of these packages and blobs, each list put in the bundle's order. */
export function buildIndex(
  packages: Iterable<Omit<BundleIndexPackage, 'manifest' | 'receipt'>>,
  blobs: Iterable<BundleIndexBlob>,
): BundleIndex {
  return {
    schema: BUNDLE_SCHEMA,
    packages: [...packages]
      .map((pkg) => ({
        id: pkg.id,
        name: pkg.name,
        producer: pkg.producer,
        subject: pkg.subject,
        retention_class: pkg.retention_class,
        content_address: pkg.content_address,
        manifest: manifestEntryName(pkg.content_address),
        receipt: receiptEntryName(pkg.id),
      }))
      .sort((a, b) => byText(a.id, b.id)),
    blobs: [...blobs]
      .map(({ blake3, size }) => ({ blake3, size }))
      .sort((a, b) => byText(a.blake3, b.blake3)),
  };
}

/** The bytes of `index.json`: RFC 8785 (JCS) JSON, UTF-8, no trailing newline. */
export function encodeIndex(index: BundleIndex): Buffer {
  return Buffer.from(canonicalJson(index as unknown as JsonValue), 'utf8');
}

/**
 * The entry names a bundle with this index holds, in their order: `index.json`, the manifests, the receipts and
 * the blobs, each group sorted by name (byte order: the names are ASCII).
 */
export function entryNames(index: BundleIndex): string[] {
  return [
    INDEX_ENTRY,
    ...index.packages.map((pkg) => pkg.manifest).sort(byText),
    ...index.packages.map((pkg) => pkg.receipt).sort(byText),
    ...index.blobs.map((blob) => blobEntryName(blob.blake3)),
  ];
}

/**
 * Reads `index.json`, refusing (`bundle_invalid`, naming the entry) anything but the canonical JSON of an index
 * as buildIndex makes it: the fields, their types, the entry names derived from the ids and addresses, and both
 * lists in order without duplicates.
 */
export function parseIndex(bytes: Buffer): BundleIndex {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw invalid(`not JSON (${(error as Error).message})`);
  }
  const root = record(value, 'the index', ['schema', 'packages', 'blobs']);
  if (root.schema !== BUNDLE_SCHEMA) {
    throw invalid(
      `schema is ${JSON.stringify(root.schema)}, not ${BUNDLE_SCHEMA} (a bundle of another version?)`,
    );
  }
  if (!Array.isArray(root.packages) || root.packages.length === 0) {
    throw invalid('packages is not a non-empty array');
  }
  if (!Array.isArray(root.blobs)) throw invalid('blobs is not an array');
  const packages = root.packages.map((item, index) => indexPackage(item, `packages[${index}]`));
  const blobs = root.blobs.map((item, index) => indexBlob(item, `blobs[${index}]`));
  const index: BundleIndex = { schema: BUNDLE_SCHEMA, packages, blobs };
  inOrder(
    packages.map((pkg) => pkg.id),
    'packages',
    'id',
  );
  inOrder(
    blobs.map((blob) => blob.blake3),
    'blobs',
    'blake3',
  );
  if (!encodeIndex(index).equals(bytes)) {
    throw invalid('not in its canonical form (RFC 8785 JSON, as export writes it)');
  }
  return index;
}

function indexPackage(value: unknown, where: string): BundleIndexPackage {
  const fields = record(value, where, [
    'id',
    'name',
    'producer',
    'subject',
    'retention_class',
    'content_address',
    'manifest',
    'receipt',
  ]);
  const text = (key: string): string => {
    const field = fields[key];
    if (typeof field !== 'string' || field === '') throw invalid(`${where}.${key} is not a non-empty string`);
    return field;
  };
  const id = text('id');
  if (!isUuid(id)) throw invalid(`${where}.id is not a lowercase hyphenated UUID`);
  const contentAddress = text('content_address');
  if (!ADDRESS.test(contentAddress))
    throw invalid(`${where}.content_address is not blake3: and 64 hex digits`);
  const pkg = {
    id,
    name: text('name'),
    producer: text('producer'),
    subject: text('subject'),
    retention_class: text('retention_class'),
    content_address: contentAddress,
    manifest: text('manifest'),
    receipt: text('receipt'),
  };
  if (pkg.manifest !== manifestEntryName(contentAddress)) {
    throw invalid(`${where}.manifest is not ${manifestEntryName(contentAddress)}`);
  }
  if (pkg.receipt !== receiptEntryName(id)) throw invalid(`${where}.receipt is not ${receiptEntryName(id)}`);
  return pkg;
}

function indexBlob(value: unknown, where: string): BundleIndexBlob {
  const fields = record(value, where, ['blake3', 'size']);
  const { blake3, size } = fields;
  if (typeof blake3 !== 'string' || !HEX_DIGEST.test(blake3)) {
    throw invalid(`${where}.blake3 is not 64 lowercase hex digits`);
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw invalid(`${where}.size is not an integer ≥ 0`);
  }
  return { blake3, size };
}

function record(value: unknown, where: string, keys: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(`${where} is not a JSON object`);
  }
  const fields = value as Record<string, unknown>;
  const unknown = Object.keys(fields).find((key) => !keys.includes(key));
  if (unknown !== undefined) throw invalid(`${where} has an unknown field ${JSON.stringify(unknown)}`);
  const missing = keys.find((key) => !(key in fields));
  if (missing !== undefined) throw invalid(`${where} has no ${missing}`);
  return fields;
}

function inOrder(keys: readonly string[], list: string, key: string): void {
  keys.forEach((current, index) => {
    const before = keys[index - 1];
    if (before !== undefined && byText(before, current) >= 0) {
      throw invalid(
        `${list} are not in ${key} order without repeats (${list}[${index}] ${before === current ? 'repeats' : 'sorts before'} ${list}[${index - 1}])`,
      );
    }
  });
}

function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function invalid(problem: string): CliError {
  return new CliError('bundle_invalid', `${INDEX_ENTRY}: ${problem}`);
}
