import {
  CborDecodeError,
  canonicalJson,
  cborToJson,
  decodeCbor,
  encodeCanonicalCbor,
  isCanonicalCbor,
  type CborMap,
  type CborValue,
} from '@artifactstore/codec';

export const MANIFEST_SCHEMA = 'artifactstore.manifest.v1';

/** What a manifest says of its package: content, not policy (no retention class, no timestamps). */
export interface ManifestPackage {
  readonly id: string;
  readonly name: string;
  readonly producer: string;
  readonly subject: string;
  readonly metadata: CborMap;
}

export interface ManifestFile {
  readonly relative_path: string;
  readonly media_type: string;
  readonly size: number;
  /** 32 bytes. */
  readonly blake3: Uint8Array;
  /** 32 bytes. */
  readonly sha256: Uint8Array;
}

export interface Manifest {
  readonly schema: typeof MANIFEST_SCHEMA;
  readonly package: ManifestPackage;
  /** Sorted by the UTF-8 bytes of relative_path. */
  readonly files: readonly ManifestFile[];
}

/** Bytes that do not hold a manifest of this schema. */
export class InvalidManifestError extends Error {
  readonly code = 'invalid_manifest';
  override readonly name = 'InvalidManifestError';
}

/**
 * The manifest of a package, files in the order of the UTF-8 bytes of their paths. JavaScript's own string order
 * compares UTF-16 code units, which differs from UTF-8 byte order past U+FFFF, so the bytes are compared.
 */
export function buildManifest(pkg: ManifestPackage, files: Iterable<ManifestFile>): Manifest {
  const keyed = [...files].map((file) => ({ file, key: Buffer.from(file.relative_path, 'utf8') }));
  keyed.sort((a, b) => Buffer.compare(a.key, b.key));
  return {
    schema: MANIFEST_SCHEMA,
    package: {
      id: pkg.id,
      name: pkg.name,
      producer: pkg.producer,
      subject: pkg.subject,
      metadata: pkg.metadata,
    },
    files: keyed.map(({ file }) => ({
      relative_path: file.relative_path,
      media_type: file.media_type,
      size: file.size,
      blake3: file.blake3,
      sha256: file.sha256,
    })),
  };
}

/** The canonical CBOR bytes (RFC 8949 §4.2.1) of a manifest; their BLAKE3 is the package's content address. */
export function encodeManifest(manifest: Manifest): Buffer {
  return encodeCanonicalCbor(manifest as unknown as CborValue);
}

/** The RFC 8785 JSON projection of manifest bytes: the same structure, byte strings as lowercase hex. */
export function manifestJson(bytes: Uint8Array): string {
  return canonicalJson(cborToJson(decodeCbor(bytes)));
}

/**
 * Reads manifest bytes back, checking that they are canonical and shaped as this schema says (for clients that
 * verify a tree against a manifest they were handed).
 */
export function decodeManifest(bytes: Uint8Array): Manifest {
  let value: CborValue;
  try {
    if (!isCanonicalCbor(bytes)) throw new InvalidManifestError('the bytes are not canonical CBOR');
    value = decodeCbor(bytes);
  } catch (error) {
    if (error instanceof CborDecodeError) throw new InvalidManifestError(`not CBOR: ${error.message}`);
    throw error;
  }
  const root = asMap(value, 'manifest');
  if (root.schema !== MANIFEST_SCHEMA) {
    throw new InvalidManifestError(`schema must be ${MANIFEST_SCHEMA}, got ${JSON.stringify(root.schema)}`);
  }
  const pkg = asMap(root.package, 'package');
  const files = root.files;
  if (!Array.isArray(files)) throw new InvalidManifestError('files must be an array');
  return {
    schema: MANIFEST_SCHEMA,
    package: {
      id: asText(pkg.id, 'package.id'),
      name: asText(pkg.name, 'package.name'),
      producer: asText(pkg.producer, 'package.producer'),
      subject: asText(pkg.subject, 'package.subject'),
      metadata: asMap(pkg.metadata, 'package.metadata'),
    },
    files: (files as readonly CborValue[]).map((item, index) => {
      const file = asMap(item, `files[${index}]`);
      const size = file.size;
      if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
        throw new InvalidManifestError(`files[${index}].size must be a non-negative integer`);
      }
      return {
        relative_path: asText(file.relative_path, `files[${index}].relative_path`),
        media_type: asText(file.media_type, `files[${index}].media_type`),
        size,
        blake3: asDigest(file.blake3, `files[${index}].blake3`),
        sha256: asDigest(file.sha256, `files[${index}].sha256`),
      };
    }),
  };
}

function asMap(value: CborValue | undefined, where: string): CborMap {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) {
    throw new InvalidManifestError(`${where} must be a map`);
  }
  return value as CborMap;
}

function asText(value: CborValue | undefined, where: string): string {
  if (typeof value !== 'string') throw new InvalidManifestError(`${where} must be a text string`);
  return value;
}

function asDigest(value: CborValue | undefined, where: string): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length !== 32) {
    throw new InvalidManifestError(`${where} must be a 32-byte string`);
  }
  return value;
}
