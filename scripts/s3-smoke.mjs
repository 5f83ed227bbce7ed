// Smoke check of an S3 server for what S3BlobStore needs: node scripts/s3-smoke.mjs (after
// `scripts/s3-server.sh start` and `eval "$(scripts/s3-server.sh env)"`). One line per step; exits non-zero on any
// failure. Reads ARTIFACTSTORE_TEST_S3_{ENDPOINT,REGION,ACCESS_KEY_ID,SECRET_ACCESS_KEY}.
//
// radosgw quirks, each seen on this machine (Debian 12's radosgw 16.2.15 "pacific", beast frontend, one memstore
// OSD, started by scripts/s3-server.sh) with @aws-sdk/client-s3 3.1175.0:
// - Checksums: with the SDK's default (requestChecksumCalculation 'WHEN_SUPPORTED'), a PutObject or UploadPart
//   whose Body is a stream (even with ContentLength set) goes out as aws-chunked with a trailing CRC32, and
//   radosgw refuses it: HTTP 411, error name "MissingContentLength". Buffer bodies pass in that mode (lib-storage
//   buffers its parts, so a default-mode Upload happens to work). With 'WHEN_REQUIRED' for both
//   requestChecksumCalculation and responseChecksumValidation, every call below works; use that.
// - A stream Body without ContentLength fails in PutObject in every mode (411 "MissingContentLength" with
//   WHEN_REQUIRED; the SDK throws TypeError 'Invalid value "undefined" for header "x-amz-decoded-content-length"'
//   in default mode): stream through lib-storage's Upload, or give ContentLength.
// - CompleteMultipartUpload returns an empty ETag ('""'; lib-storage's Upload().done() passes it on); HeadObject
//   afterwards has the right one ("<md5 of the part md5s>-<part count>"). Never take the ETag from Complete.
// - Error bodies carry a Code but no Message: the SDK's error.message is "UnknownError" for most errors (NoSuchKey,
//   NoSuchUpload, PreconditionFailed, EntityTooSmall, BucketNotEmpty, SignatureDoesNotMatch, MissingContentLength).
//   Switch on error.name (and $metadata.httpStatusCode), never on the message.
// - Missing things: HeadObject on a missing key or bucket -> "NotFound" (404, HEAD has no body); GetObject ->
//   "NoSuchKey" / "NoSuchBucket"; UploadPart and AbortMultipartUpload with an unknown or aborted upload id ->
//   "NoSuchUpload" (404), but ListParts -> "NoSuchKey" (404), and CompleteMultipartUpload with an unknown upload
//   id -> HTTP 500 "InternalError", message "This multipart completion is already in progress".
// - Completing with a part under 5 MiB that is not the last -> "EntityTooSmall" (400).
// - A Range starting past the end -> "InvalidRange" (416); a range running past the end is cut to the object.
// - PutObject with IfNoneMatch '*' is honoured: over an existing key -> "PreconditionFailed" (412); new key -> 200.
// - CreateBucket on a bucket the same user owns -> 200 (no BucketAlreadyOwnedByYou). A client region other than
//   us-east-1 makes the SDK send a LocationConstraint, which radosgw refuses with "InvalidLocationConstraint"
//   (400, "The specified location-constraint is not valid"); other calls are signed fine with any region.
// - DeleteBucket on a bucket with objects -> "BucketNotEmpty" (409). DeleteObject of a missing key -> 204.
// - UploadPartCopy with CopySourceRange works (the part ETag is in CopyPartResult.ETag), as does CopyObject.
// - ListMultipartUploads lists a started upload; after AbortMultipartUpload it is gone at once.
// - Path-style addressing (forcePathStyle: true) is required: there are no virtual-host buckets on 127.0.0.1.
import { createHash, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

const MiB = 1024 * 1024;
const SIZE = 20 * MiB;
const PART = 5 * MiB;

const endpoint = process.env.ARTIFACTSTORE_TEST_S3_ENDPOINT ?? 'http://127.0.0.1:7480';
const client = new S3Client({
  endpoint,
  region: process.env.ARTIFACTSTORE_TEST_S3_REGION ?? 'us-east-1',
  forcePathStyle: true,
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
  credentials: {
    accessKeyId: process.env.ARTIFACTSTORE_TEST_S3_ACCESS_KEY_ID ?? 'artifactstore',
    secretAccessKey: process.env.ARTIFACTSTORE_TEST_S3_SECRET_ACCESS_KEY ?? 'artifactstore-secret',
  },
});

const Bucket = `s3-smoke-${randomBytes(4).toString('hex')}`;
const data = randomBytes(SIZE);
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const md5 = (bytes) => createHash('md5').update(bytes).digest('hex');

let failed = false;
let bucketCreated = false;

async function step(name, fn) {
  const started = performance.now();
  try {
    const detail = await fn();
    const ms = Math.round(performance.now() - started);
    console.log(`ok   ${name} (${ms} ms)${detail ? `: ${detail}` : ''}`);
  } catch (error) {
    failed = true;
    console.log(`FAIL ${name}: ${describe(error)}`);
    throw error;
  }
}

function describe(error) {
  if (!(error instanceof Error)) return String(error);
  const status = error.$metadata?.httpStatusCode;
  return `${error.name}${status ? ` (HTTP ${status})` : ''}: ${error.message}`;
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function expectError(promise, name) {
  try {
    await promise;
  } catch (error) {
    check(error instanceof Error && error.name === name, `expected ${name}, got ${describe(error)}`);
    return `${name} (HTTP ${error.$metadata?.httpStatusCode})`;
  }
  throw new Error(`expected ${name}, but the call succeeded`);
}

async function bodyBytes(body) {
  return Buffer.from(await body.transformToByteArray());
}

/** `data` as a stream of 64 KiB chunks with no known length, as an ingest would see it. */
function stream(bytes) {
  return Readable.from(
    (function* () {
      for (let offset = 0; offset < bytes.length; offset += 64 * 1024) {
        yield bytes.subarray(offset, offset + 64 * 1024);
      }
    })(),
  );
}

/** The S3 multipart ETag of `bytes` cut into `partSize` parts. */
function multipartEtag(bytes, partSize) {
  const digests = [];
  for (let offset = 0; offset < bytes.length; offset += partSize) {
    digests.push(
      createHash('md5')
        .update(bytes.subarray(offset, offset + partSize))
        .digest(),
    );
  }
  return `"${md5(Buffer.concat(digests))}-${digests.length}"`;
}

async function main() {
  console.log(`S3 smoke check against ${endpoint}, bucket ${Bucket}`);

  await step('CreateBucket', async () => {
    await client.send(new CreateBucketCommand({ Bucket }));
    bucketCreated = true;
  });

  await step('Upload (lib-storage, small stream: one PutObject)', async () => {
    const small = data.subarray(0, 100 * 1024);
    await new Upload({ client, params: { Bucket, Key: 'small', Body: stream(small) } }).done();
    const head = await client.send(new HeadObjectCommand({ Bucket, Key: 'small' }));
    check(head.ETag === `"${md5(small)}"`, `ETag ${head.ETag}, expected md5 ${md5(small)}`);
    return `ETag ${head.ETag}`;
  });

  let uploadEtag;
  await step('Upload (lib-storage, 20 MiB stream in 5 MiB parts)', async () => {
    const upload = new Upload({
      client,
      params: { Bucket, Key: 'big', Body: stream(data) },
      partSize: PART,
      queueSize: 2,
      leavePartsOnError: false,
    });
    const result = await upload.done();
    uploadEtag = result.ETag;
    return `Complete returned ETag ${JSON.stringify(result.ETag)}`;
  });

  await step('HeadObject', async () => {
    const head = await client.send(new HeadObjectCommand({ Bucket, Key: 'big' }));
    check(head.ContentLength === SIZE, `ContentLength ${head.ContentLength}`);
    const expected = multipartEtag(data, PART);
    check(head.ETag === expected, `ETag ${head.ETag}, expected ${expected}`);
    return `${head.ContentLength} bytes, ETag ${head.ETag}${uploadEtag === head.ETag ? '' : ' (differs from Complete)'}`;
  });

  await step('HeadObject on a missing key', () =>
    expectError(client.send(new HeadObjectCommand({ Bucket, Key: 'missing' })), 'NotFound'),
  );

  await step('GetObject on a missing key', () =>
    expectError(client.send(new GetObjectCommand({ Bucket, Key: 'missing' })), 'NoSuchKey'),
  );

  await step('GetObject (full, verified)', async () => {
    const got = await client.send(new GetObjectCommand({ Bucket, Key: 'big' }));
    const bytes = await bodyBytes(got.Body);
    check(sha256(bytes) === sha256(data), 'content differs');
    return `sha256 ${sha256(bytes).slice(0, 16)}…`;
  });

  await step('GetObject (ranged, across a part boundary)', async () => {
    const [start, end] = [PART - 10, PART + 9];
    const got = await client.send(
      new GetObjectCommand({ Bucket, Key: 'big', Range: `bytes=${start}-${end}` }),
    );
    const bytes = await bodyBytes(got.Body);
    check(bytes.equals(data.subarray(start, end + 1)), 'range content differs');
    check(got.ContentRange === `bytes ${start}-${end}/${SIZE}`, `ContentRange ${got.ContentRange}`);
    return `${got.ContentRange}, ${bytes.length} bytes`;
  });

  await step('GetObject (range ending past the end)', async () => {
    const got = await client.send(new GetObjectCommand({ Bucket, Key: 'big', Range: `bytes=${SIZE - 5}-` }));
    const bytes = await bodyBytes(got.Body);
    check(bytes.equals(data.subarray(SIZE - 5)), 'tail content differs');
    return `${got.ContentRange}`;
  });

  await step('GetObject (range past the end)', () =>
    expectError(
      client.send(new GetObjectCommand({ Bucket, Key: 'big', Range: `bytes=${SIZE}-${SIZE + 10}` })),
      'InvalidRange',
    ),
  );

  await step('CopyObject', async () => {
    await client.send(new CopyObjectCommand({ Bucket, Key: 'copy', CopySource: `${Bucket}/big` }));
    const head = await client.send(new HeadObjectCommand({ Bucket, Key: 'copy' }));
    check(head.ContentLength === SIZE, `ContentLength ${head.ContentLength}`);
    const got = await client.send(new GetObjectCommand({ Bucket, Key: 'copy' }));
    check(sha256(await bodyBytes(got.Body)) === sha256(data), 'copy content differs');
    return `ETag ${head.ETag}`;
  });

  await step('UploadPartCopy (multipart copy with CopySourceRange, 8 MiB parts)', async () => {
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket, Key: 'mpcopy' }));
    const copyPart = 8 * MiB;
    const parts = [];
    try {
      for (let offset = 0, n = 1; offset < SIZE; offset += copyPart, n++) {
        const end = Math.min(offset + copyPart, SIZE) - 1;
        const part = await client.send(
          new UploadPartCopyCommand({
            Bucket,
            Key: 'mpcopy',
            UploadId,
            PartNumber: n,
            CopySource: `${Bucket}/big`,
            CopySourceRange: `bytes=${offset}-${end}`,
          }),
        );
        check(part.CopyPartResult?.ETag, `part ${n} has no ETag`);
        parts.push({ PartNumber: n, ETag: part.CopyPartResult.ETag });
      }
      await client.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key: 'mpcopy',
          UploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
    } catch (error) {
      await client.send(new AbortMultipartUploadCommand({ Bucket, Key: 'mpcopy', UploadId }));
      throw error;
    }
    const head = await client.send(new HeadObjectCommand({ Bucket, Key: 'mpcopy' }));
    check(head.ContentLength === SIZE, `ContentLength ${head.ContentLength}`);
    const expected = multipartEtag(data, copyPart);
    check(head.ETag === expected, `ETag ${head.ETag}, expected ${expected}`);
    const got = await client.send(new GetObjectCommand({ Bucket, Key: 'mpcopy' }));
    check(sha256(await bodyBytes(got.Body)) === sha256(data), 'multipart copy content differs');
    return `${parts.length} parts, ETag ${head.ETag}`;
  });

  await step('ListObjectsV2', async () => {
    const keys = [];
    let ContinuationToken;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket, MaxKeys: 2, ContinuationToken }));
      keys.push(...(page.Contents ?? []).map((object) => `${object.Key}=${object.Size}`));
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
    const expected = [`big=${SIZE}`, `copy=${SIZE}`, `mpcopy=${SIZE}`, `small=${100 * 1024}`];
    check(keys.join() === expected.join(), `keys ${keys.join()}`);
    return `${keys.join(', ')} (pages of 2)`;
  });

  let UploadId;
  await step('ListMultipartUploads (a started upload with one part)', async () => {
    ({ UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket, Key: 'aborted' })));
    await client.send(
      new UploadPartCommand({
        Bucket,
        Key: 'aborted',
        UploadId,
        PartNumber: 1,
        Body: data.subarray(0, PART),
      }),
    );
    const listed = await client.send(new ListMultipartUploadsCommand({ Bucket }));
    const uploads = (listed.Uploads ?? []).map((upload) => `${upload.Key}:${upload.UploadId}`);
    check(uploads.length === 1 && uploads[0] === `aborted:${UploadId}`, `uploads ${uploads.join()}`);
    return uploads.join();
  });

  await step('AbortMultipartUpload', async () => {
    await client.send(new AbortMultipartUploadCommand({ Bucket, Key: 'aborted', UploadId }));
    const listed = await client.send(new ListMultipartUploadsCommand({ Bucket }));
    check((listed.Uploads ?? []).length === 0, `${listed.Uploads?.length} uploads left`);
    // radosgw answers ListParts on an aborted upload with NoSuchKey (UploadPart and Abort say NoSuchUpload).
    const listParts = await expectError(
      client.send(new ListPartsCommand({ Bucket, Key: 'aborted', UploadId })),
      'NoSuchKey',
    );
    const again = await expectError(
      client.send(new AbortMultipartUploadCommand({ Bucket, Key: 'aborted', UploadId })),
      'NoSuchUpload',
    );
    const head = await expectError(
      client.send(new HeadObjectCommand({ Bucket, Key: 'aborted' })),
      'NotFound',
    );
    return `no upload left; then ListParts ${listParts}, Abort again ${again}, HeadObject ${head}`;
  });

  await step('PutObject with a stream Body and ContentLength', async () => {
    const part = data.subarray(0, PART);
    await client.send(
      new PutObjectCommand({ Bucket, Key: 'streamed', Body: stream(part), ContentLength: part.length }),
    );
    const head = await client.send(new HeadObjectCommand({ Bucket, Key: 'streamed' }));
    check(head.ETag === `"${md5(part)}"`, `ETag ${head.ETag}`);
    return `ETag ${head.ETag}`;
  });

  await step('PutObject with IfNoneMatch "*" (put if absent)', async () => {
    const refused = await expectError(
      client.send(new PutObjectCommand({ Bucket, Key: 'small', Body: 'x', IfNoneMatch: '*' })),
      'PreconditionFailed',
    );
    const head = await client.send(new HeadObjectCommand({ Bucket, Key: 'small' }));
    check(head.ContentLength === 100 * 1024, `existing object changed to ${head.ContentLength} bytes`);
    await client.send(new PutObjectCommand({ Bucket, Key: 'absent', Body: 'x', IfNoneMatch: '*' }));
    return `over an existing key ${refused}; on a new key accepted`;
  });

  await step('DeleteObject', async () => {
    for (const Key of ['absent', 'big', 'copy', 'mpcopy', 'small', 'streamed']) {
      await client.send(new DeleteObjectCommand({ Bucket, Key }));
    }
    await client.send(new DeleteObjectCommand({ Bucket, Key: 'missing' })); // deleting a missing key: no error
    const listed = await client.send(new ListObjectsV2Command({ Bucket }));
    check((listed.Contents ?? []).length === 0, `${listed.Contents?.length} objects left`);
    return 'all 6 objects, and a missing key without error';
  });

  await step('DeleteBucket', async () => {
    await client.send(new DeleteBucketCommand({ Bucket }));
    bucketCreated = false;
    return expectError(client.send(new ListObjectsV2Command({ Bucket })), 'NoSuchBucket').then(
      (error) => `then ListObjectsV2: ${error}`,
    );
  });
}

async function cleanUp() {
  // After a failure: delete what this run left, so a rerun starts clean.
  try {
    const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket }));
    for (const upload of uploads.Uploads ?? []) {
      await client.send(
        new AbortMultipartUploadCommand({ Bucket, Key: upload.Key, UploadId: upload.UploadId }),
      );
    }
    const listed = await client.send(new ListObjectsV2Command({ Bucket }));
    for (const object of listed.Contents ?? []) {
      await client.send(new DeleteObjectCommand({ Bucket, Key: object.Key }));
    }
    await client.send(new DeleteBucketCommand({ Bucket }));
  } catch (error) {
    console.log(`clean-up after the failure failed too: ${describe(error)}`);
  }
}

try {
  await main();
} catch (error) {
  failed = true;
  if (!(error instanceof Error)) console.log(`FAIL: ${String(error)}`);
  if (bucketCreated) await cleanUp();
}
client.destroy();
console.log(failed ? 'S3 smoke check FAILED' : 'S3 smoke check passed');
process.exitCode = failed ? 1 : 0;
