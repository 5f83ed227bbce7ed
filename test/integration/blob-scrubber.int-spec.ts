import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { blake3, toHex } from '@artifactstore/codec';
import type { BlobStore, FsBlobStore, S3BlobStore } from '@artifactstore/dataplane';
import {
  BlobScrubber,
  type CreatePackageInput,
  type Event,
  type PackageRecord,
  type Registry,
  type ScrubStatus,
} from '@artifactstore/registry';
import { BLOB_DAMAGED, readBlobDamaged } from '@artifactstore/views';
import { openCore, type CoreContext } from '../support/core-context.js';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';
import { testS3Connection } from '../support/test-s3.js';

const ADMIN = 'root';

interface Backend {
  readonly name: 'fs' | 's3';
  readonly bucket: string;
  overrides(): Record<string, string>;
}

function backendsUnderTest(): Backend[] {
  const backends: Backend[] = [{ name: 'fs', bucket: '', overrides: () => ({}) }];
  const s3 = testS3Connection();
  if (s3) {
    backends.push({
      name: 's3',
      bucket: s3.bucket,
      overrides: () => ({
        ARTIFACTSTORE_STORAGE: 's3',
        ARTIFACTSTORE_S3_ENDPOINT: s3.endpoint ?? '',
        ARTIFACTSTORE_S3_BUCKET: s3.bucket,
        ARTIFACTSTORE_S3_PREFIX: `scrub-${randomBytes(6).toString('hex')}/`,
        ARTIFACTSTORE_S3_FORCE_PATH_STYLE: 'true',
        ARTIFACTSTORE_S3_ACCESS_KEY_ID: s3.accessKeyId ?? '',
        ARTIFACTSTORE_S3_SECRET_ACCESS_KEY: s3.secretAccessKey ?? '',
      }),
    });
  }
  return backends;
}

const cases = dialectsUnderTest().flatMap((dialect) =>
  backendsUnderTest().map((backend) => ({ dialect, backend, label: `${dialect.dialect} + ${backend.name}` })),
);

describe.each(cases)('scrub on $label', ({ dialect, backend }) => {
  let testDatabase: TestDatabase;
  let core: CoreContext;
  let registry: Registry;
  let store: BlobStore;
  let scrubber: BlobScrubber;

  // A fresh store per test: the scrub reports on everything stored.
  beforeEach(async () => {
    testDatabase = await dialect.create({ ...backend.overrides(), ARTIFACTSTORE_GC_INTERVAL_SECONDS: '0' });
    core = await openCore(testDatabase.config);
    registry = core.registry;
    store = core.blobStore;
    scrubber = core.app.get(BlobScrubber);
  });

  afterEach(async () => {
    // The S3 bucket is shared: leave nothing under this test's prefix.
    if (backend.name === 's3') for await (const key of store.list()) await store.delete(key);
    await core.app.close();
    await testDatabase.dispose();
  });

  const keyOf = (bytes: Buffer): string => toHex(blake3(bytes));

  const create = (overrides: Partial<CreatePackageInput> = {}): Promise<PackageRecord> =>
    registry.createPackage(
      {
        name: `app-${randomBytes(4).toString('hex')}`,
        producer: 'ci',
        subject: 'git:1',
        retention_class: 'ephemeral',
        ...overrides,
      },
      'ci',
    );

  const upload = async (pkg: PackageRecord, path: string, bytes: Buffer): Promise<void> => {
    await registry.ingestFile(pkg.id, path, 'application/octet-stream', Readable.from([bytes]), 'ci');
  };

  /** Runs a pass to its end. */
  const scrub = async (): Promise<ScrubStatus> => {
    const started = registry.startScrub(ADMIN);
    expect(started.state).toBe('running');
    return scrubber.settled();
  };

  const eventsSince = (since: number): Promise<Event[]> => registry.listEvents(since, 1000);

  /** Flips one byte of the stored blob, behind the store's back. */
  const corrupt = async (key: string): Promise<void> => {
    if (backend.name === 'fs') {
      const file = await open((store as FsBlobStore).pathOf(key), 'r+');
      try {
        const byte = Buffer.alloc(1);
        await file.read(byte, 0, 1, 100);
        byte[0] = (byte[0] ?? 0) ^ 0xff;
        await file.write(byte, 0, 1, 100);
      } finally {
        await file.close();
      }
      return;
    }
    const s3 = store as S3BlobStore;
    const objectKey = s3.objectKey(key);
    const object = await s3.client.send(new GetObjectCommand({ Bucket: backend.bucket, Key: objectKey }));
    const bytes = Buffer.from((await object.Body?.transformToByteArray()) ?? []);
    bytes[100] = (bytes[100] ?? 0) ^ 0xff;
    await s3.client.send(new PutObjectCommand({ Bucket: backend.bucket, Key: objectKey, Body: bytes }));
  };

  const expectReplayIdentical = async (): Promise<void> => {
    const report = await registry.replayViews();
    expect(report.state_digest_after).toBe(report.state_digest_before);
  };

  it('answers idle before the first pass', () => {
    expect(registry.scrubStatus()).toEqual({
      state: 'idle',
      started_at: null,
      finished_at: null,
      checked: { blobs: 0, bytes: 0 },
      missing: 0,
      damaged: 0,
      orphaned: 0,
      findings: [],
      error: null,
    });
  });

  it('checks every blob of a live file once, finds nothing wrong in a clean store, and appends nothing', async () => {
    const shared = randomBytes(5000);
    const own = randomBytes(70_000);
    const empty = Buffer.alloc(0);
    const finalized = await create();
    await upload(finalized, 'shared.bin', shared);
    await upload(finalized, 'own.bin', own);
    await registry.finalizePackage(finalized.id, 'ci');
    const open = await create();
    await upload(open, 'same-bytes.bin', shared);
    await upload(open, 'empty.bin', empty);
    const head = await registry.headSequence();

    const status = await scrub();

    expect(status).toEqual({
      state: 'done',
      started_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) as string,
      finished_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) as string,
      checked: { blobs: 3, bytes: shared.length + own.length },
      missing: 0,
      damaged: 0,
      orphaned: 0,
      findings: [],
      error: null,
    });
    expect(Date.parse(status.finished_at ?? '')).toBeGreaterThanOrEqual(Date.parse(status.started_at ?? ''));
    expect(await registry.headSequence()).toBe(head);
    expect(registry.scrubStatus()).toEqual(status);
  });

  it('finds a blob deleted behind the store’s back missing and records it once as v1.blob.damaged', async () => {
    const lost = randomBytes(4000);
    const kept = randomBytes(3000);
    const pkg = await create();
    await upload(pkg, 'lost.bin', lost);
    await upload(pkg, 'kept.bin', kept);
    await registry.finalizePackage(pkg.id, 'ci');
    expect(await store.delete(keyOf(lost))).toBe(true);
    const head = await registry.headSequence();

    const status = await scrub();

    expect(status).toMatchObject({
      state: 'done',
      checked: { blobs: 2, bytes: kept.length },
      missing: 1,
      damaged: 0,
      orphaned: 0,
      findings: [{ blake3: keyOf(lost), kind: 'missing', size: lost.length }],
      error: null,
    });
    const events = await eventsSince(head);
    expect(
      events.map((event) => [event.event_type, event.subject_kind, event.subject_id, event.actor]),
    ).toEqual([[BLOB_DAMAGED, 'blob', keyOf(lost), ADMIN]]);
    const payload = readBlobDamaged(events[0] as Event);
    expect(toHex(payload.blake3)).toBe(keyOf(lost));
    expect(payload.kind).toBe('missing');
    await expectReplayIdentical();
  });

  it('finds a corrupted blob a mismatch and records it as v1.blob.damaged', async () => {
    const rotten = randomBytes(200_000);
    const pkg = await create();
    await upload(pkg, 'rotten.bin', rotten);
    await registry.finalizePackage(pkg.id, 'ci');
    await corrupt(keyOf(rotten));
    const head = await registry.headSequence();

    const status = await scrub();

    expect(status).toMatchObject({
      state: 'done',
      checked: { blobs: 1 },
      missing: 0,
      damaged: 1,
      orphaned: 0,
      findings: [{ blake3: keyOf(rotten), kind: 'mismatch', size: rotten.length }],
    });
    const events = await eventsSince(head);
    expect(events.map((event) => [event.event_type, event.subject_id])).toEqual([
      [BLOB_DAMAGED, keyOf(rotten)],
    ]);
    expect(readBlobDamaged(events[0] as Event).kind).toBe('mismatch');
    await expectReplayIdentical();
  });

  it('counts bytes no file names as orphaned, without an event, and does not read them', async () => {
    const receipt = await store.ingest(Readable.from([randomBytes(2500)]));
    await store.releaseStaging(receipt);
    const pkg = await create();
    await upload(pkg, 'a.bin', randomBytes(100));
    const head = await registry.headSequence();

    const status = await scrub();

    expect(status).toMatchObject({
      state: 'done',
      checked: { blobs: 1, bytes: 100 },
      missing: 0,
      damaged: 0,
      orphaned: 1,
      findings: [{ blake3: receipt.key, kind: 'orphaned', size: 2500 }],
    });
    expect(await registry.headSequence()).toBe(head);
  });

  it('leaves out blobs of removed packages: neither checked when missing nor orphaned while still stored', async () => {
    const gone = await create();
    const goneMissing = randomBytes(1000);
    const goneStored = randomBytes(1200);
    await upload(gone, 'missing.bin', goneMissing);
    await upload(gone, 'stored.bin', goneStored);
    await registry.finalizePackage(gone.id, 'ci');
    await registry.deletePackage(gone.id, 'test', ADMIN, 'any');
    await store.delete(keyOf(goneMissing));
    const head = await registry.headSequence();

    const status = await scrub();

    expect(status).toMatchObject({
      state: 'done',
      checked: { blobs: 0, bytes: 0 },
      missing: 0,
      damaged: 0,
      orphaned: 0,
      findings: [],
    });
    expect(await registry.headSequence()).toBe(head);
  });

  it('runs one pass at a time: a second start while one runs answers its status and starts nothing', async () => {
    const lost = randomBytes(3000);
    const pkg = await create();
    await upload(pkg, 'lost.bin', lost);
    await store.delete(keyOf(lost));
    const head = await registry.headSequence();

    const first = registry.startScrub(ADMIN);
    const second = registry.startScrub(ADMIN);
    expect(first.state).toBe('running');
    expect(second.state).toBe('running');
    expect(second.started_at).toBe(first.started_at);
    const status = await scrubber.settled();

    expect(status).toMatchObject({ state: 'done', started_at: first.started_at, missing: 1 });
    expect((await eventsSince(head)).map((event) => event.event_type)).toEqual([BLOB_DAMAGED]);
  });

  it('reports a pass that fails as failed, with the reason', async () => {
    const pkg = await create();
    await upload(pkg, 'a.bin', randomBytes(100));
    store.open = () => Promise.reject(new Error('the disk is on fire'));

    const status = await scrub();

    expect(status).toMatchObject({ state: 'failed', error: 'the disk is on fire', checked: { blobs: 0 } });
    expect(status.finished_at).not.toBeNull();
  });
});
