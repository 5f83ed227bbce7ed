import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import mime from 'mime-types';
import type { JsonValue } from '@artifactstore/codec';
import type { FileRecord, PackageRecord } from '@artifactstore/registry';
import { DEFAULT_MEDIA_TYPE } from '@artifactstore/registry/rules';
import type { ArtifactClient, Upload } from '../artifact-client.js';
import { CliError } from '../cli.errors.js';
import { collectFiles, digestFile, READ_CHUNK, type LocalFile } from '../local-tree.js';
import { note } from '../output.js';
import { ProgressReporter } from '../progress-reporter.js';
import { runConcurrently } from '../task-pool.js';
import { checkTag, listAllFiles } from './package-ref.js';

export interface PushOptions {
  readonly name?: string;
  readonly producer?: string;
  readonly subject?: string;
  readonly retention?: string;
  readonly meta: readonly string[];
  readonly metaFile?: string;
  readonly resume?: string;
  /** Tags of the package's name to point at it once it is finalized. */
  readonly tag?: readonly string[];
  readonly concurrency: number;
  readonly json?: boolean;
}

export interface PushResult {
  readonly package_id: string;
  readonly content_address: string;
  readonly files: number;
  readonly uploaded: number;
  readonly skipped: number;
  readonly bytes: number;
  /** The tags pointed at it, as `<name>:<tag>`. */
  readonly tags: string[];
}

/**
 * Creates a package (or takes up `--resume`'s), uploads every file not already in it with identical digests,
 * several at once, and finalizes it. Each upload declares its size, SHA-256 and BLAKE3, computed by reading the
 * file first, so the receiver refuses bytes that changed on the way (or on disk in between). The create carries an
 * Idempotency-Key of this invocation's own, so the HTTP client's retry of it cannot leave a second draft. Each
 * `--tag` is then pointed at the finalized package, in the order given.
 */
export async function push(
  client: ArtifactClient,
  sources: readonly string[],
  options: PushOptions,
): Promise<PushResult> {
  const tags = [...new Set(options.tag ?? [])].map((tag) => checkTag(tag, `--tag ${tag}`));
  const files = await collectFiles(sources);
  const resuming = options.resume === undefined ? undefined : await client.getPackage(options.resume);
  const { id: packageId, name } = resuming ?? (await createPackage(client, options));
  const existing =
    resuming === undefined ? new Map<string, FileRecord>() : await resumable(client, resuming, files);
  const totalBytes = files.reduce((sum, file) => sum + file.size, 0);
  const progress = new ProgressReporter('uploaded', files.length, totalBytes, process.stderr, options.json);
  let uploaded = 0;
  try {
    await runConcurrently(files, options.concurrency, async (file) => {
      const digests = await digestFile(file.absolutePath);
      const already = existing.get(file.relativePath);
      if (already !== undefined) {
        if (
          already.size !== digests.size ||
          already.sha256 !== digests.sha256 ||
          already.blake3 !== digests.blake3
        ) {
          throw new CliError(
            'resume_mismatch',
            `${file.relativePath} is already in package ${packageId} with other content; start a new push`,
          );
        }
        progress.skippedBytes(file.size);
        progress.fileDone(file.relativePath, file.size, true);
        return;
      }
      await client.uploadFile(packageId, uploadOf(file, digests, progress));
      uploaded += 1;
      progress.fileDone(file.relativePath, digests.size);
    });
  } catch (error) {
    progress.finish();
    note(`push of package ${packageId} stopped; continue it with --resume ${packageId}`);
    throw error;
  }
  progress.finish();
  const { content_address } = await client.finalizePackage(packageId);
  return {
    package_id: packageId,
    content_address,
    files: files.length,
    uploaded,
    skipped: files.length - uploaded,
    bytes: totalBytes,
    tags: await tagPackage(client, packageId, content_address, name, tags),
  };
}

/** Points each tag at the finalized package; a failure says the package is done and how to tag it by hand. */
async function tagPackage(
  client: ArtifactClient,
  packageId: string,
  contentAddress: string,
  name: string,
  tags: readonly string[],
): Promise<string[]> {
  const done: string[] = [];
  for (const tag of tags) {
    const ref = `${name}:${tag}`;
    try {
      const { created } = await client.moveTag(name, tag, packageId);
      note(`${created ? 'tagged' : 'moved'} ${ref} → ${packageId}`);
    } catch (error) {
      note(
        `package ${packageId} is finalized as ${contentAddress}, but tagging ${ref} failed; tag it with \`artifactstore tag ${contentAddress} ${ref}\``,
      );
      throw error;
    }
    done.push(ref);
  }
  return done;
}

async function createPackage(
  client: ArtifactClient,
  options: PushOptions,
): Promise<{ id: string; name: string }> {
  const missing = (['name', 'producer', 'subject', 'retention'] as const).filter(
    (key) => options[key] === undefined,
  );
  if (missing.length > 0) {
    throw new CliError(
      'usage',
      `push needs ${missing.map((key) => `--${key}`).join(', ')} (or --resume <package-id>)`,
    );
  }
  const created = await client.createPackage(
    {
      name: options.name ?? '',
      producer: options.producer ?? '',
      subject: options.subject ?? '',
      retention_class: options.retention ?? '',
      metadata: await metadataOf(options),
    },
    randomUUID(),
  );
  note(`package ${created.id} created`);
  return { id: created.id, name: created.name };
}

/** The package's files so far; the package must still take files, and hold nothing the tree does not. */
async function resumable(
  client: ArtifactClient,
  pkg: PackageRecord,
  files: readonly LocalFile[],
): Promise<Map<string, FileRecord>> {
  const packageId = pkg.id;
  if (pkg.status !== 'created') {
    throw new CliError(
      'illegal_package_state',
      `package ${packageId} is ${pkg.status}: there is nothing to resume`,
    );
  }
  const existing = new Map((await listAllFiles(client, packageId)).map((file) => [file.relative_path, file]));
  const local = new Set(files.map((file) => file.relativePath));
  for (const path of existing.keys()) {
    if (!local.has(path)) {
      throw new CliError(
        'resume_mismatch',
        `package ${packageId} holds ${JSON.stringify(path)}, which is not in the tree`,
      );
    }
  }
  note(`resuming package ${packageId}: ${existing.size} of ${files.length} files already there`);
  return existing;
}

/** `--meta-file` (a JSON object) first, then each `--meta k=v` (a string value) over it. */
async function metadataOf(options: PushOptions): Promise<Record<string, JsonValue>> {
  const metadata: Record<string, JsonValue> = {};
  if (options.metaFile !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(options.metaFile, 'utf8'));
    } catch (error) {
      throw new CliError('invalid_input', `--meta-file ${options.metaFile}: ${(error as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new CliError('invalid_input', `--meta-file ${options.metaFile} must hold a JSON object`);
    }
    Object.assign(metadata, parsed);
  }
  for (const pair of options.meta) {
    const equals = pair.indexOf('=');
    if (equals <= 0) throw new CliError('usage', `--meta ${JSON.stringify(pair)} must be key=value`);
    metadata[pair.slice(0, equals)] = pair.slice(equals + 1);
  }
  return metadata;
}

function uploadOf(
  file: LocalFile,
  digests: { size: number; sha256: string; blake3: string },
  progress: ProgressReporter,
): Upload {
  return {
    relativePath: file.relativePath,
    mediaType: mediaTypeOf(file.relativePath),
    ...digests,
    open: () => countedFrom(file, 0, progress),
    openFrom: (offset) => countedFrom(file, offset, progress),
  };
}

/** The file's bytes from `offset` on, counted into the progress as they are read. */
function countedFrom(file: LocalFile, offset: number, progress: ProgressReporter): ByteCounter {
  const counter = new ByteCounter(progress);
  pipeline(createReadStream(file.absolutePath, { start: offset, highWaterMark: READ_CHUNK }), counter).catch(
    () => {
      // pipeline has destroyed the counter with the error; its reader sees it.
    },
  );
  return counter;
}

/** The media type `mime-types` guesses from the extension, without a charset; octet-stream when unknown. */
export function mediaTypeOf(relativePath: string): string {
  return mime.lookup(relativePath) || DEFAULT_MEDIA_TYPE;
}

class ByteCounter extends Transform {
  constructor(private readonly progress: ProgressReporter) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.progress.bytes(chunk.length);
    callback(null, chunk);
  }
}
