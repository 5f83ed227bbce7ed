import { createReadStream } from 'node:fs';
import { READ_CHUNK } from '../local-tree.js';
import { checkBundle } from './bundle-check.js';
import { parseLogKey } from './receipt-check.js';

export interface VerifyBundleOptions {
  /** `--log-key`: each receipt is proven in the log this key signs. */
  readonly logKey?: string;
  /** Where `-` reads the bundle from (stdin). */
  readonly stdin?: AsyncIterable<Buffer>;
}

export interface VerifiedBundlePackage {
  readonly id: string;
  readonly name: string;
  readonly content_address: string;
  readonly files: number;
  /** With a key: the log entry of its finalization, and the tree size its receipt proves it in. */
  readonly log?: { readonly origin: string; readonly leaf_index: number; readonly tree_size: number };
}

export interface VerifyBundleResult {
  readonly ok: true;
  readonly packages: readonly VerifiedBundlePackage[];
  readonly files: number;
  readonly blobs: number;
  readonly bytes: number;
  /** Whether the receipts were checked against a key. */
  readonly receipts_checked: boolean;
}

/**
 * Checks a bundle with no server, as `import` does before it writes anything (checkBundle), and with a key each
 * receipt too. Any problem is thrown (exit 4) naming the entry; a sound bundle gives its summary.
 */
export async function verifyBundle(
  file: string,
  options: VerifyBundleOptions = {},
): Promise<VerifyBundleResult> {
  const verifier = options.logKey === undefined ? undefined : parseLogKey(options.logKey);
  const source =
    file === '-'
      ? (options.stdin ?? (process.stdin as AsyncIterable<Buffer>))
      : createReadStream(file, { highWaterMark: READ_CHUNK });
  const bundle = await checkBundle(source, { verifier });
  return {
    ok: true,
    packages: bundle.packages.map(({ listed, manifest, log }) => ({
      id: listed.id,
      name: listed.name,
      content_address: listed.content_address,
      files: manifest.files.length,
      ...(log === undefined ? {} : { log }),
    })),
    files: bundle.files,
    blobs: bundle.blobs.size,
    bytes: bundle.bytes,
    receipts_checked: verifier !== undefined,
  };
}

/** The human summary: one line per package, then the totals. */
export function describeVerifiedBundle(file: string, result: VerifyBundleResult): string {
  const lines = result.packages.map(
    (pkg) =>
      `${pkg.id} ${pkg.content_address} ${pkg.name} (${pkg.files} files)` +
      (pkg.log === undefined
        ? ''
        : `, entry ${pkg.log.leaf_index} of ${pkg.log.origin} (size ${pkg.log.tree_size})`),
  );
  lines.push(
    `${file}: a sound bundle of ${result.packages.length} packages, ${result.files} files, ${result.blobs} blobs (${result.bytes} bytes)` +
      (result.receipts_checked
        ? '; every receipt proven in the signed log'
        : '; receipts not checked (no --log-key)'),
  );
  return lines.join('\n');
}
