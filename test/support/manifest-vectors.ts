import { blake3, sha256 } from '@artifactstore/codec';
import type { ManifestFile, ManifestPackage } from '@artifactstore/registry';

/** The inputs of the golden manifest vectors in test/fixtures/manifest-vectors.json (and docs/formats.md). */
export const VECTOR_PACKAGE: ManifestPackage = {
  id: '01890a5d-ac96-774b-bcce-b302099a8057',
  name: 'hello',
  producer: 'ci',
  subject: 'git:abc123',
  metadata: { build: 7, ratio: 0.25, tags: ['a', 'é'] },
};

export function vectorFile(relativePath: string, content: string, mediaType = 'text/plain'): ManifestFile {
  return {
    relative_path: relativePath,
    media_type: mediaType,
    size: Buffer.byteLength(content),
    blake3: blake3(content),
    sha256: sha256(content),
  };
}

/** The worked example: two files, given out of order. */
export function workedExampleFiles(): ManifestFile[] {
  return [vectorFile('b.txt', 'bee\n'), vectorFile('a/x.bin', '', 'application/octet-stream')];
}

/** The 10,000-file vector: 100 directories, files given in reverse order; metadata {files: 10000}. */
export const TEN_THOUSAND_PACKAGE: ManifestPackage = { ...VECTOR_PACKAGE, metadata: { files: 10_000 } };

export function tenThousandFiles(): ManifestFile[] {
  const files: ManifestFile[] = [];
  for (let i = 0; i < 10_000; i++) {
    const path = `dir-${String(i % 100).padStart(2, '0')}/file-${i}.bin`;
    files.push(vectorFile(path, `content ${i}`, 'application/x-test'));
  }
  return files.reverse();
}

/** What the registry's refusal says for each rule named in the golden vectors' `portablePaths.refused`. */
export const PORTABLE_RULE_REASONS: Readonly<Record<string, RegExp>> = {
  device_name: /^segment ".+" is a device name on Windows \(.+\) \(portable path rule\)$/,
  trailing_dot: /^segment ".+" must not end with a dot \(portable path rule\)$/,
  trailing_space: /^segment ".+" must not end with a space \(portable path rule\)$/,
  bidi_control: /^must not contain U\+[0-9A-F]{4}, a bidirectional control \(portable path rule\)$/,
  byte_order_mark: /^must not contain U\+FEFF, a byte order mark \(portable path rule\)$/,
};
