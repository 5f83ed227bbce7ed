import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCopyCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import {
  BlobStore,
  type BlobChunk,
  type BlobRead,
  type BlobStat,
  type ByteSource,
  type IngestOptions,
  type IngestReceipt,
  type OpenOptions,
  type StoredBlob,
} from './blob-store.js';
import { BlobNotFoundError, DataplaneError, StorageError } from './dataplane.errors.js';
import { HashedSource, storageError } from './ingest-checks.js';

const KEY = /^[0-9a-f]{64}$/;
const MiB = 1 << 20;
/** A staging object or multipart upload untouched this long belongs to no live ingest. */
const STALE_STAGING_MS = 60 * 60 * 1000;

export interface S3BlobStoreOptions {
  readonly client: S3Client;
  readonly bucket: string;
  /** Prepended to every object key, e.g. `artifactstore/`. */
  readonly prefix: string;
  /** Multipart upload part size (default 8 MiB; S3's minimum is 5 MiB). */
  readonly partSize?: number;
  /** Parts uploaded at once (default 2): memory is about partSize × (queueSize + 1). */
  readonly queueSize?: number;
  /** Blobs above this size are copied into place part by part (S3's CopyObject stops at 5 GiB). */
  readonly copyPartThreshold?: number;
  /** Part size of such a copy (default 512 MiB). */
  readonly copyPartSize?: number;
}

/**
 * Blobs as objects `<prefix>blobs/<aa>/<bb>/<blake3 hex>` in one bucket. The key is known only once the bytes have
 * passed, so an ingest streams them (multipart, bounded memory) to a unique staging object, hashing as they go,
 * then copies that into place — skipped when the blob already exists. The staging object is the receipt's staging
 * copy: it stays until `releaseStaging` (or `sweepStaging`, an hour on). A failure aborts the multipart upload and
 * deletes what was staged. Nothing is ever visible under a blob key unless complete, since a copy is atomic. Full
 * reads go through a BlobVerifier, as on every backend.
 */
export class S3BlobStore extends BlobStore {
  readonly backend = 's3';
  /** The store's S3 client, for tools that work on the same bucket (tests, benchmarks) with the same settings. */
  readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly partSize: number;
  private readonly queueSize: number;
  private readonly copyPartThreshold: number;
  private readonly copyPartSize: number;

  constructor(options: S3BlobStoreOptions) {
    super();
    this.client = options.client;
    this.bucket = options.bucket;
    this.prefix = options.prefix;
    this.partSize = options.partSize ?? 8 * MiB;
    this.queueSize = options.queueSize ?? 2;
    this.copyPartThreshold = options.copyPartThreshold ?? 5 * 1024 * MiB;
    this.copyPartSize = options.copyPartSize ?? 512 * MiB;
  }

  /** Creates the bucket when asked and missing, and removes staging leftovers of ingests that died. */
  async init(createBucket: boolean, now = Date.now()): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      if (!isNotFound(error) || !createBucket)
        throw storageError(`bucket ${this.bucket} is not available`, error);
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket })).catch((created: unknown) => {
        throw storageError(`cannot create bucket ${this.bucket}`, created);
      });
    }
    await this.sweepStaging(now);
  }

  sweepLeftovers(now = Date.now()): Promise<number> {
    return this.sweepStaging(now);
  }

  /** Deletes staging objects and aborts multipart uploads older than an hour; returns how many. */
  async sweepStaging(now = Date.now()): Promise<number> {
    let swept = 0;
    for await (const object of this.listObjects(this.stagingPrefix)) {
      if (object.LastModified && now - object.LastModified.getTime() > STALE_STAGING_MS && object.Key) {
        await this.deleteQuietly(object.Key);
        swept++;
      }
    }
    for (const upload of await this.multipartUploads()) {
      if (
        upload.Initiated &&
        now - upload.Initiated.getTime() > STALE_STAGING_MS &&
        upload.Key &&
        upload.UploadId
      ) {
        await this.abortQuietly(upload.Key, upload.UploadId);
        swept++;
      }
    }
    return swept;
  }

  async ingest(source: ByteSource, options: IngestOptions = {}): Promise<IngestReceipt> {
    const hashed = new HashedSource(source, options);
    const stagingKey = `${this.stagingPrefix}${randomUUID()}`;
    const body = Readable.from(hashed.chunks(), { objectMode: false });
    // The source's own error (too large, a client gone) says more than the SDK's report of the failed upload.
    let sourceError: unknown;
    body.on('error', (error) => {
      sourceError ??= error;
    });
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: stagingKey, Body: body },
      partSize: this.partSize,
      queueSize: this.queueSize,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (error) {
      await this.deleteQuietly(stagingKey);
      const cause = sourceError ?? error;
      throw cause instanceof DataplaneError
        ? cause
        : storageError('upload to the staging object failed', cause);
    }
    try {
      const { size, blake3, sha256 } = hashed.result();
      const key = blake3.toString('hex');
      if (!(await this.exists(key))) await this.copyIntoPlace(stagingKey, this.objectKey(key), size);
      return { size, blake3, sha256, backend: this.backend, key, staging: stagingKey };
    } catch (error) {
      await this.deleteQuietly(stagingKey);
      throw error;
    }
  }

  /** Puts the blob back by copying the staging object into place when the blob is missing. */
  async ensureStored(receipt: IngestReceipt): Promise<boolean> {
    if (await this.exists(receipt.key)) return false;
    if (!this.holdsStaging(receipt.staging)) {
      throw new StorageError(
        `blob ${receipt.key} is missing and ${receipt.staging} is no staging object of this store`,
      );
    }
    try {
      await this.copyIntoPlace(receipt.staging, this.objectKey(receipt.key), receipt.size);
    } catch (error) {
      const cause = error instanceof StorageError ? error.cause : error;
      if (cause instanceof Error && isNotFound(cause)) {
        throw new StorageError(`blob ${receipt.key} is missing and so is its staging copy`, { cause });
      }
      throw error instanceof DataplaneError
        ? error
        : storageError(`cannot put blob ${receipt.key} back from its staging copy`, error);
    }
    return true;
  }

  /** Every failure is swallowed: a staging object left behind is the sweep's (`sweepStaging`). */
  async releaseStaging(receipt: IngestReceipt): Promise<void> {
    if (this.holdsStaging(receipt.staging)) await this.deleteQuietly(receipt.staging);
  }

  /** Whether `objectKey` is a staging object of this store (so that a handle from elsewhere deletes nothing). */
  private holdsStaging(objectKey: string): boolean {
    return objectKey.startsWith(this.stagingPrefix) && objectKey.length > this.stagingPrefix.length;
  }

  /** The one read path: the object's size from a HEAD, then its bytes from a GET (of the range asked for) as taken. */
  protected async read(key: string, options: OpenOptions): Promise<BlobRead> {
    const info = await this.stat(key);
    if (!info) throw new BlobNotFoundError(key);
    const range =
      options.start === undefined && options.end === undefined
        ? undefined
        : this.rangeWithin(options, info.size);
    return { size: info.size, chunks: this.getChunks(key, range && `bytes=${range.start}-${range.end}`) };
  }

  async exists(key: string): Promise<boolean> {
    return (await this.stat(key)) !== undefined;
  }

  async stat(key: string): Promise<BlobStat | undefined> {
    if (!KEY.test(key)) return undefined;
    try {
      const head = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }),
      );
      return { size: head.ContentLength ?? 0 };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw storageError(`cannot stat blob ${key}`, error);
    }
  }

  async delete(key: string): Promise<boolean> {
    if (!(await this.exists(key))) return false;
    await this.client
      .send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }))
      .catch((error: unknown) => {
        throw storageError(`cannot delete blob ${key}`, error);
      });
    return true;
  }

  async *list(): AsyncGenerator<string> {
    for await (const { key } of this.listWithSizes()) yield key;
  }

  async *listWithSizes(): AsyncGenerator<StoredBlob> {
    for await (const object of this.listObjects(`${this.prefix}blobs/`)) {
      const key = object.Key?.slice(object.Key.lastIndexOf('/') + 1);
      if (key !== undefined && KEY.test(key)) {
        // An object without a date counts as new: a collector keeps what it cannot date.
        yield { key, size: object.Size ?? 0, modifiedAt: object.LastModified?.getTime() ?? Date.now() };
      }
    }
  }

  async checkWritable(): Promise<void> {
    const probe = `${this.stagingPrefix}probe-${randomUUID()}`;
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: probe, Body: 'probe' }));
    } catch (error) {
      throw storageError(`cannot write to bucket ${this.bucket}`, error);
    } finally {
      await this.deleteQuietly(probe);
    }
  }

  /** The object key of a blob. */
  objectKey(key: string): string {
    return `${this.prefix}blobs/${key.slice(0, 2)}/${key.slice(2, 4)}/${key}`;
  }

  /** Where staging objects live (for tests that look for leftovers). */
  get stagingPrefix(): string {
    return `${this.prefix}staging/`;
  }

  /** Multipart uploads still open under the staging prefix. */
  async multipartUploads(): Promise<{ Key?: string; UploadId?: string; Initiated?: Date }[]> {
    const uploads: { Key?: string; UploadId?: string; Initiated?: Date }[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const page = await this.client.send(
        new ListMultipartUploadsCommand({
          Bucket: this.bucket,
          Prefix: this.stagingPrefix,
          KeyMarker: keyMarker,
          UploadIdMarker: uploadIdMarker,
        }),
      );
      uploads.push(...(page.Uploads ?? []));
      if (!page.IsTruncated) return uploads;
      keyMarker = page.NextKeyMarker;
      uploadIdMarker = page.NextUploadIdMarker;
    }
  }

  private async *getChunks(key: string, range: string | undefined): AsyncGenerator<BlobChunk> {
    for await (const bytes of await this.get(key, range)) yield { bytes: bytes as Buffer };
  }

  private async get(key: string, range?: string): Promise<Readable> {
    try {
      const response = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key), Range: range }),
      );
      if (!(response.Body instanceof Readable)) throw new Error('the SDK returned no Node stream');
      return response.Body;
    } catch (error) {
      if (isNotFound(error)) throw new BlobNotFoundError(key);
      throw error instanceof DataplaneError ? error : storageError(`cannot read blob ${key}`, error);
    }
  }

  /** CopyObject up to the threshold; above it a multipart copy (UploadPartCopy), aborted on any failure. */
  private async copyIntoPlace(from: string, to: string, size: number): Promise<void> {
    const copySource = `${this.bucket}/${from}`;
    if (size <= this.copyPartThreshold) {
      await this.client
        .send(new CopyObjectCommand({ Bucket: this.bucket, Key: to, CopySource: copySource }))
        .catch((error: unknown) => {
          throw storageError('cannot copy the staged blob into place', error);
        });
      return;
    }
    const created = await this.client.send(
      new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: to }),
    );
    const uploadId = created.UploadId;
    if (!uploadId) throw storageError('cannot start a multipart copy', new Error('no UploadId'));
    try {
      const parts: CompletedPart[] = [];
      for (let start = 0, part = 1; start < size; start += this.copyPartSize, part++) {
        const end = Math.min(start + this.copyPartSize, size) - 1;
        const copied = await this.client.send(
          new UploadPartCopyCommand({
            Bucket: this.bucket,
            Key: to,
            UploadId: uploadId,
            PartNumber: part,
            CopySource: copySource,
            CopySourceRange: `bytes=${start}-${end}`,
          }),
        );
        parts.push({ PartNumber: part, ETag: copied.CopyPartResult?.ETag });
      }
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: to,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
    } catch (error) {
      await this.abortQuietly(to, uploadId);
      throw storageError('cannot copy the staged blob into place', error);
    }
  }

  private async *listObjects(
    prefix: string,
  ): AsyncGenerator<{ Key?: string; LastModified?: Date; Size?: number }> {
    let token: string | undefined;
    do {
      const page = await this.client
        .send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }))
        .catch((error: unknown) => {
          throw storageError(`cannot list ${prefix}`, error);
        });
      yield* page.Contents ?? [];
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  private async deleteQuietly(objectKey: string): Promise<void> {
    await this.client
      .send(new DeleteObjectCommand({ Bucket: this.bucket, Key: objectKey }))
      .catch(() => undefined);
  }

  private async abortQuietly(objectKey: string, uploadId: string): Promise<void> {
    await this.client
      .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: objectKey, UploadId: uploadId }))
      .catch(() => undefined);
  }
}

function isNotFound(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  const name = (error as { name?: string }).name;
  return status === 404 || name === 'NotFound' || name === 'NoSuchKey' || name === 'NoSuchBucket';
}

/** Connection settings of the S3 backend (ARTIFACTSTORE_S3_*). */
export interface S3Connection {
  readonly endpoint?: string;
  readonly region: string;
  readonly bucket: string;
  readonly prefix: string;
  readonly forcePathStyle: boolean;
  readonly accessKeyId?: string;
  readonly secretAccessKey?: string;
  readonly createBucket: boolean;
}

/**
 * An S3BlobStore on `connection`, its bucket checked (or created) and stale staging swept. Checksums only when
 * required: with the SDK's default (a trailing checksum on every request) radosgw refused streamed uploads (411),
 * Swift answered 501 and s3rver stored corrupted bytes; our own digests cover integrity end to end.
 */
export async function openS3BlobStore(
  connection: S3Connection,
  tuning: Partial<Omit<S3BlobStoreOptions, 'client' | 'bucket' | 'prefix'>> = {},
): Promise<S3BlobStore> {
  const client = new S3Client({
    endpoint: connection.endpoint,
    region: connection.region,
    forcePathStyle: connection.forcePathStyle,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    credentials:
      connection.accessKeyId !== undefined && connection.secretAccessKey !== undefined
        ? { accessKeyId: connection.accessKeyId, secretAccessKey: connection.secretAccessKey }
        : undefined,
  });
  const store = new S3BlobStore({ client, bucket: connection.bucket, prefix: connection.prefix, ...tuning });
  await store.init(connection.createBucket);
  return store;
}
