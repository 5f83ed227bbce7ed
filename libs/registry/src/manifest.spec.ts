import { readFileSync } from 'node:fs';
import { encode as independentEncode, cdeEncodeOptions } from 'cbor2';
import { createHash as createIndependentBlake3 } from 'blake3-wasm';
import { blake3, contentAddress, decodeCbor, encodeCanonicalCbor } from '@artifactstore/codec';
import vectors from '../../../test/fixtures/manifest-vectors.json' with { type: 'json' };
import {
  TEN_THOUSAND_PACKAGE,
  VECTOR_PACKAGE,
  tenThousandFiles,
  vectorFile,
  workedExampleFiles,
} from '../../../test/support/manifest-vectors.js';
import {
  InvalidManifestError,
  buildManifest,
  decodeManifest,
  encodeManifest,
  manifestJson,
  type Manifest,
} from './manifest.js';
import { storageLocationId } from './storage-location.js';

const PACKAGE = VECTOR_PACKAGE;
const file = vectorFile;
const WORKED_EXAMPLE = buildManifest(PACKAGE, workedExampleFiles());
const largeManifest = (): Manifest => buildManifest(TEN_THOUSAND_PACKAGE, tenThousandFiles());

function independentContentAddress(bytes: Uint8Array): string {
  return `blake3:${createIndependentBlake3().update(bytes).digest('hex')}`;
}

/** The manifest as plain data for cbor2: byte strings as plain Uint8Array. */
function forIndependentEncoder(manifest: Manifest): unknown {
  return {
    schema: manifest.schema,
    package: { ...manifest.package },
    files: manifest.files.map((entry) => ({
      ...entry,
      blake3: new Uint8Array(entry.blake3),
      sha256: new Uint8Array(entry.sha256),
    })),
  };
}

describe('manifest', () => {
  it('sorts files by the UTF-8 bytes of their paths, not by UTF-16 code units', () => {
    // U+FF5E (3 UTF-8 bytes, EF BD 9E) sorts before U+1F600 (4 bytes, F0 …) in UTF-8, after it in UTF-16.
    const manifest = buildManifest(PACKAGE, [
      file('😀', 'x'),
      file('～', 'y'),
      file('Z', 'z'),
      file('a', 'w'),
    ]);
    expect(manifest.files.map((entry) => entry.relative_path)).toEqual(['Z', 'a', '～', '😀']);
  });

  it('encodes the worked example to the pinned bytes, as an independent CBOR library does', () => {
    const bytes = encodeManifest(WORKED_EXAMPLE);
    expect(bytes.toString('hex')).toBe(vectors.workedExample.cborHex);
    expect(Buffer.from(independentEncode(forIndependentEncoder(WORKED_EXAMPLE), cdeEncodeOptions))).toEqual(
      bytes,
    );
    expect(contentAddress(blake3(bytes))).toBe(vectors.workedExample.contentAddress);
    expect(independentContentAddress(bytes)).toBe(vectors.workedExample.contentAddress);
  });

  it('is the worked example that docs/formats.md prints', () => {
    const docs = readFileSync('docs/formats.md', 'utf8');
    const block = /The manifest is (\d+) bytes:\n\n```\n([0-9a-f\n]+)```/.exec(docs);
    expect(block?.[2]?.replaceAll('\n', '')).toBe(vectors.workedExample.cborHex);
    expect(Number(block?.[1])).toBe(vectors.workedExample.cborHex.length / 2);
    expect(docs).toContain(vectors.workedExample.contentAddress);
    expect(docs).toContain(vectors.workedExample.json);
    expect(docs).toContain(vectors.tenThousandFiles.contentAddress);
  });

  it('projects the worked example to the pinned RFC 8785 JSON', () => {
    expect(manifestJson(encodeManifest(WORKED_EXAMPLE))).toBe(vectors.workedExample.json);
  });

  it('encodes 10,000 files to the golden digest, like the independent encoder, and decodes back', () => {
    const manifest = largeManifest();
    const bytes = encodeManifest(manifest);
    expect(bytes.length).toBe(vectors.tenThousandFiles.size);
    expect(contentAddress(blake3(bytes))).toBe(vectors.tenThousandFiles.contentAddress);
    expect(Buffer.from(independentEncode(forIndependentEncoder(manifest), cdeEncodeOptions))).toEqual(bytes);
    const decoded = decodeManifest(bytes);
    expect(decoded.files).toHaveLength(10_000);
    expect(encodeManifest(decoded)).toEqual(bytes);
  });

  it('encodes metadata integers as integers, other numbers as their shortest float, and -0 as 0', () => {
    const bytes = encodeManifest(
      buildManifest(
        { ...PACKAGE, metadata: { a: -0, b: 9007199254740991, c: 9007199254740992, d: 1.5, e: 0.1 } },
        [],
      ),
    );
    const hex = bytes.toString('hex');
    expect(hex).toContain('6161' + '00'); // "a": 0
    expect(hex).toContain('6162' + '1b001fffffffffffff'); // "b": 2^53 - 1, an integer
    expect(hex).toContain('6163' + 'fa5a000000'); // "c": 2^53, a float32
    expect(hex).toContain('6164' + 'f93e00'); // "d": 1.5, a float16
    expect(hex).toContain('6165' + 'fb3fb999999999999a'); // "e": 0.1, a float64
  });

  it('refuses bytes that are not a canonical manifest', () => {
    const good = encodeManifest(WORKED_EXAMPLE);
    expect(() => decodeManifest(Buffer.from([0xa0]))).toThrow(InvalidManifestError);
    expect(() => decodeManifest(good.subarray(0, good.length - 1))).toThrow(InvalidManifestError);
    const wrongSchema = { ...(decodeCbor(good) as Record<string, unknown>), schema: 'other' };
    expect(() => decodeManifest(Buffer.from(independentEncode(wrongSchema, cdeEncodeOptions)))).toThrow(
      /schema must be artifactstore.manifest.v1/,
    );
    // The same map with its keys in insertion order instead of canonical order.
    const unsorted = independentEncode(forIndependentEncoder(WORKED_EXAMPLE), {
      ...cdeEncodeOptions,
      sortKeys: null,
    });
    expect(() => decodeManifest(Buffer.from(unsorted))).toThrow(/not canonical CBOR/);
  });
});

describe('storage location id', () => {
  it("is the UUIDv5 of docs/formats.md (vector computed with Python's hashlib, not this code)", () => {
    const vector = vectors.storageLocationId;
    expect(encodeCanonicalCbor([vector.fileId, vector.backend, vector.key]).toString('hex')).toBe(
      vector.nameCborHex,
    );
    expect(storageLocationId(vector.fileId, vector.backend, vector.key)).toBe(vector.locationId);
    expect(readFileSync('docs/formats.md', 'utf8')).toContain(vector.locationId);
  });
});
