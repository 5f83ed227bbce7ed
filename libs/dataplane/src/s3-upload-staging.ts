import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCopyCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { DualDigests } from '@artifactstore/codec';
import type { BlobStore, IngestReceipt } from './blob-store.js';
import { DataplaneError } from './dataplane.errors.js';
import { storageError } from './ingest-checks.js';
import { UPLOAD_ID, UploadStaging, type StagedUploadState } from './upload-staging.js';

const MiB = 1 << 20;
/** S3's smallest part but the last; a staged piece smaller than this is rewritten with the bytes that follow it. */
const MIN_PART = 5 * MiB;
const PIECE = /\/piece-([0-9]{16})$/;
/** UploadPartCopy requests at once when the pieces are assembled. */
const COPIES_AT_ONCE = 8;

export interface S3UploadStagingOptions {
  readonly client: S3Client;
  readonly bucket: string;
  /** The S3BlobStore's prefix. */
  readonly prefix: string;
  /** Bytes per staged piece (default 8 MiB, at least 5 MiB): the memory one PATCH holds, twice. */
  readonly pieceSize?: number;
}

/**
 * Resumable uploads as objects under `<prefix>uploads/<id>/`: `info.json` (the document), the bytes as pieces
 * `piece-<offset, 16 digits>` in order (their sizes add up to the offset) and, once attached, `completed.json`.
 *
 * Not one multipart upload: S3 cannot read the parts of an unfinished one, and a process that did not see the
 * bytes pass must read them to hash them. Every piece but the last is at least 5 MiB (S3's part minimum), so that
 * completion assembles them server-side with UploadPartCopy into an ordinary staging object: a PATCH that ends
 * with a smaller piece leaves it, and the next PATCH reads it back (at most 5 MiB) and rewrites it, under the same
 * name, with its own first bytes. A PUT replaces an object whole, so a crash leaves the old piece or the new one.
 */
export class S3UploadStaging extends UploadStaging {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly uploadsPrefix: string;
  private readonly stagingPrefix: string;
  private readonly pieceSize: number;

  constructor(
    private readonly store: BlobStore,
    options: S3UploadStagingOptions,
  ) {
    super();
    this.client = options.client;
    this.bucket = options.bucket;
    this.uploadsPrefix = `${options.prefix}uploads/`;
    this.stagingPrefix = `${options.prefix}staging/`;
    this.pieceSize = Math.max(options.pieceSize ?? 8 * MiB, MIN_PART);
  }

  async create(id: string, document: string): Promise<void> {
    await this.put(`${this.prefixOf(id)}info.json`, Buffer.from(document));
  }

  async state(id: string): Promise<StagedUploadState | undefined> {
    if (!UPLOAD_ID.test(id)) return undefined;
    const objects = await this.objectsOf(id);
    const info = objects.find((object) => object.name === 'info.json');
    if (!info) return undefined;
    const document = await this.getText(`${this.prefixOf(id)}info.json`);
    if (document === undefined) return undefined;
    const completion = objects.some((object) => object.name === 'completed.json')
      ? await this.getText(`${this.prefixOf(id)}completed.json`)
      : undefined;
    const pieces = piecesOf(objects);
    const last = pieces.at(-1);
    return {
      document,
      offset: last ? last.start + last.size : 0,
      touchedAt: Math.max(...objects.map((object) => object.modifiedAt)),
      ...(completion === undefined ? {} : { completion }),
    };
  }

  async append(id: string, offset: number, chunks: AsyncIterable<Uint8Array>): Promise<number> {
    const prefix = this.prefixOf(id);
    const last = piecesOf(await this.objectsOf(id)).at(-1);
    let start = offset;
    let held: Buffer[] = [];
    let heldBytes = 0;
    if (last && last.size < MIN_PART && last.start + last.size === offset) {
      const bytes = await this.getBytes(`${prefix}${last.name}`);
      held = [bytes];
      heldBytes = bytes.length;
      start = last.start;
    }
    let pending: Promise<void> = Promise.resolve();
    // One piece in flight while the next fills.
    const flush = async (): Promise<void> => {
      if (heldBytes === 0) return;
      const body = Buffer.concat(held, heldBytes);
      const at = start;
      start += heldBytes;
      held = [];
      heldBytes = 0;
      await pending;
      pending = this.put(`${prefix}${pieceName(at)}`, body);
      pending.catch(() => undefined);
    };
    let sourceError: { error: unknown } | undefined;
    try {
      try {
        for await (const chunk of chunks) {
          held.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          heldBytes += chunk.length;
          if (heldBytes >= this.pieceSize) await flush();
        }
      } catch (error) {
        sourceError = { error };
      }
      await flush();
      await pending;
    } catch (error) {
      await pending.catch(() => undefined);
      throw error instanceof DataplaneError ? error : storageError(`cannot write upload ${id}`, error);
    }
    if (sourceError) throw sourceError.error;
    return start;
  }

  async truncate(id: string, offset: number): Promise<void> {
    const prefix = this.prefixOf(id);
    for (const piece of piecesOf(await this.objectsOf(id))) {
      if (piece.start >= offset) {
        await this.deleteObject(`${prefix}${piece.name}`);
      } else if (piece.start + piece.size > offset) {
        const kept = await this.getBytes(`${prefix}${piece.name}`, `bytes=0-${offset - piece.start - 1}`);
        await this.put(`${prefix}${piece.name}`, kept);
      }
    }
  }

  async *read(id: string): AsyncGenerator<Uint8Array> {
    const prefix = this.prefixOf(id);
    for (const piece of piecesOf(await this.objectsOf(id))) {
      for await (const chunk of await this.getStream(`${prefix}${piece.name}`)) yield chunk as Buffer;
    }
  }

  async complete(id: string, digests: DualDigests): Promise<IngestReceipt> {
    const prefix = this.prefixOf(id);
    const pieces = piecesOf(await this.objectsOf(id));
    const staging = `${this.stagingPrefix}${randomUUID()}`;
    const sourceOf = (name: string): string => `${this.bucket}/${prefix}${name}`;
    try {
      if (pieces.length <= 1) {
        const only = pieces[0];
        if (only) {
          await this.client.send(
            new CopyObjectCommand({ Bucket: this.bucket, Key: staging, CopySource: sourceOf(only.name) }),
          );
        } else {
          await this.put(staging, Buffer.alloc(0));
        }
      } else {
        await this.assemble(
          staging,
          pieces.map((piece) => sourceOf(piece.name)),
        );
      }
    } catch (error) {
      await this.deleteObject(staging).catch(() => undefined);
      throw error instanceof DataplaneError ? error : storageError(`cannot assemble upload ${id}`, error);
    }
    const receipt: IngestReceipt = {
      size: digests.size,
      blake3: digests.blake3,
      sha256: digests.sha256,
      backend: this.store.backend,
      key: digests.blake3.toString('hex'),
      staging,
    };
    try {
      await this.store.ensureStored(receipt);
    } catch (error) {
      await this.store.releaseStaging(receipt);
      throw error;
    }
    return receipt;
  }

  async markCompleted(id: string, completion: string): Promise<void> {
    const prefix = this.prefixOf(id);
    await this.put(`${prefix}completed.json`, Buffer.from(completion));
    for (const piece of piecesOf(await this.objectsOf(id))) {
      await this.deleteObject(`${prefix}${piece.name}`).catch(() => undefined);
    }
  }

  async remove(id: string): Promise<void> {
    if (!UPLOAD_ID.test(id)) return;
    const prefix = this.prefixOf(id);
    for (const object of await this.objectsOf(id)) {
      await this.deleteObject(`${prefix}${object.name}`);
    }
  }

  async *ids(): AsyncGenerator<string> {
    let token: string | undefined;
    do {
      const page = await this.client
        .send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.uploadsPrefix,
            Delimiter: '/',
            ContinuationToken: token,
          }),
        )
        .catch((error: unknown) => {
          throw storageError(`cannot list ${this.uploadsPrefix}`, error);
        });
      for (const common of page.CommonPrefixes ?? []) {
        const id = common.Prefix?.slice(this.uploadsPrefix.length, -1);
        if (id !== undefined && UPLOAD_ID.test(id)) yield id;
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /** A multipart upload of `sources` (whole objects, in order) to `key`, by server-side copies; aborted on failure. */
  private async assemble(key: string, sources: readonly string[]): Promise<void> {
    const created = await this.client.send(
      new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key }),
    );
    const uploadId = created.UploadId;
    if (!uploadId) throw new Error('no UploadId');
    try {
      const parts: CompletedPart[] = new Array<CompletedPart>(sources.length);
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < sources.length) {
          const index = next++;
          const copied = await this.client.send(
            new UploadPartCopyCommand({
              Bucket: this.bucket,
              Key: key,
              UploadId: uploadId,
              PartNumber: index + 1,
              CopySource: sources[index],
            }),
          );
          parts[index] = { PartNumber: index + 1, ETag: copied.CopyPartResult?.ETag };
        }
      };
      await Promise.all(Array.from({ length: Math.min(COPIES_AT_ONCE, sources.length) }, worker));
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
    } catch (error) {
      await this.client
        .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }))
        .catch(() => undefined);
      throw error;
    }
  }

  private prefixOf(id: string): string {
    if (!UPLOAD_ID.test(id)) throw new Error(`not an upload id: ${JSON.stringify(id)}`);
    return `${this.uploadsPrefix}${id}/`;
  }

  /** The objects of an upload, named relative to its prefix. */
  private async objectsOf(id: string): Promise<StagedObject[]> {
    const prefix = this.prefixOf(id);
    const objects: StagedObject[] = [];
    let token: string | undefined;
    do {
      const page = await this.client
        .send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }))
        .catch((error: unknown) => {
          throw storageError(`cannot list upload ${id}`, error);
        });
      for (const object of page.Contents ?? []) {
        if (!object.Key) continue;
        objects.push({
          name: object.Key.slice(prefix.length),
          size: object.Size ?? 0,
          modifiedAt: object.LastModified?.getTime() ?? Date.now(),
        });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return objects;
  }

  private async put(key: string, body: Buffer): Promise<void> {
    await this.client
      .send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentLength: body.length }))
      .catch((error: unknown) => {
        throw storageError(`cannot write ${key}`, error);
      });
  }

  private async getStream(key: string, range?: string): Promise<Readable> {
    try {
      const response = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: range }),
      );
      if (!(response.Body instanceof Readable)) throw new Error('the SDK returned no Node stream');
      return response.Body;
    } catch (error) {
      throw storageError(`cannot read ${key}`, error);
    }
  }

  private async getBytes(key: string, range?: string): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const chunk of await this.getStream(key, range)) parts.push(chunk as Buffer);
    return Buffer.concat(parts);
  }

  private async getText(key: string): Promise<string | undefined> {
    try {
      return (await this.getBytes(key)).toString('utf8');
    } catch (error) {
      const cause = (error as { cause?: unknown }).cause;
      if (isNotFound(cause)) return undefined;
      throw error;
    }
  }

  private async deleteObject(key: string): Promise<void> {
    await this.client
      .send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }))
      .catch((error: unknown) => {
        throw storageError(`cannot delete ${key}`, error);
      });
  }
}

interface StagedObject {
  readonly name: string;
  readonly size: number;
  readonly modifiedAt: number;
}

interface Piece extends StagedObject {
  readonly start: number;
}

function pieceName(start: number): string {
  return `piece-${String(start).padStart(16, '0')}`;
}

/**
 * The pieces that make the staged bytes, in order: contiguous from offset 0. A piece that does not follow the one
 * before (left by a crash between a truncate's deletes) and any after it are not staged bytes.
 */
function piecesOf(objects: readonly StagedObject[]): Piece[] {
  const all = objects
    .map((object) => {
      const match = PIECE.exec(`/${object.name}`);
      return match?.[1] === undefined ? undefined : { ...object, start: Number(match[1]) };
    })
    .filter((piece): piece is Piece => piece !== undefined)
    .sort((a, b) => a.start - b.start);
  const pieces: Piece[] = [];
  let next = 0;
  for (const piece of all) {
    if (piece.start !== next) break;
    pieces.push(piece);
    next += piece.size;
  }
  return pieces;
}

function isNotFound(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata
    ?.httpStatusCode;
  const name = (error as { name?: string } | undefined)?.name;
  return status === 404 || name === 'NotFound' || name === 'NoSuchKey';
}
