import { randomBytes, randomUUID } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { blake3, decodeCbor, sha256, toHex, uuidv7 } from '@artifactstore/codec';
import { AppConfig } from '@artifactstore/config';
import { IncompleteStreamError, DigestMismatchError } from '@artifactstore/dataplane';
import { asString } from '@artifactstore/db';
import type { Event } from '@artifactstore/events';
import {
  DuplicateRelativePathError,
  FileNotFoundError,
  IdempotencyKeyReusedError,
  IllegalPackageStateError,
  InvalidInputError,
  InvalidRelativePathError,
  ManifestNotFoundError,
  PackageConflictError,
  PackageNotFoundError,
  PathConflictError,
  UnknownRetentionClassError,
  decodeManifest,
  storageLocationId,
  type CreatePackageInput,
  type PackageRecord,
  type Registry,
} from '@artifactstore/registry';
import { dumpState, fileIngestedEvent, packageCreatedEvent, stateDigest } from '@artifactstore/views';
import vectors from '../fixtures/manifest-vectors.json' with { type: 'json' };
import { startCore, type CoreHarness } from '../support/app-harness.js';
import {
  PORTABLE_RULE_REASONS,
  TEN_THOUSAND_PACKAGE,
  tenThousandFiles,
} from '../support/manifest-vectors.js';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';

const ACTOR = 'alice';

const input = (overrides: Partial<CreatePackageInput> = {}): CreatePackageInput => ({
  name: 'app',
  producer: 'ci',
  subject: `git:${randomBytes(4).toString('hex')}`,
  retention_class: 'standard',
  ...overrides,
});

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A source that yields `head`, then waits for `release` before yielding `tail`: an upload held mid-stream. */
function heldSource(
  head: Buffer,
  tail: Buffer,
): { source: AsyncIterable<Buffer>; started: Promise<void>; release(): void } {
  let release!: () => void;
  let started!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const startedPromise = new Promise<void>((resolve) => (started = resolve));
  async function* source(): AsyncGenerator<Buffer> {
    yield head;
    started();
    await released;
    yield tail;
  }
  return { source: source(), started: startedPromise, release };
}

describe.each(dialectsUnderTest())('Registry on $dialect', (dialectUnderTest) => {
  let testDatabase: TestDatabase;
  let core: CoreHarness;
  let registry: Registry;

  beforeAll(async () => {
    testDatabase = await dialectUnderTest.create();
    core = await startCore(testDatabase);
    registry = core.registry;
  });

  afterAll(async () => {
    await core.close();
    await testDatabase.dispose();
  });

  const head = (): Promise<number> => core.eventLog.headSequence();
  const eventsOf = async (packageId: string): Promise<Event[]> =>
    (await core.eventLog.fetchSince(0, 100_000)).filter((event) => event.subject_id === packageId);
  const rowCount = async (table: string, where = '1 = 1', params: unknown[] = []): Promise<number> => {
    const [row] = await core.database.read((tx) =>
      tx.query(`SELECT count(*) AS n FROM ${table} WHERE ${where}`, params),
    );
    return Number(row?.n);
  };

  describe('createPackage', () => {
    it('appends v1.package.created and writes the package row in one transaction', async () => {
      const before = await head();
      const pkg = await registry.createPackage(input({ metadata: { build: 7, tags: ['a'] } }), ACTOR);
      expect(pkg).toEqual({
        id: expect.stringMatching(
          /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
        ) as string,
        name: 'app',
        producer: 'ci',
        subject: expect.stringMatching(/^git:/) as string,
        retention_class: 'standard',
        status: 'created',
        metadata: { build: 7, tags: ['a'] },
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) as string,
        finalized_at: null,
        expires_at: null,
        held: false,
        hold_reason: null,
        removed_at: null,
        removal_reason: null,
        file_count: 0,
        total_size: 0,
        content_address: null,
      });
      expect(await head()).toBe(before + 1);
      const [event] = await eventsOf(pkg.id);
      expect(event).toMatchObject({
        event_type: 'v1.package.created',
        subject_kind: 'package',
        actor: ACTOR,
      });
      expect(event?.created_at).toBe(pkg.created_at);
      expect(decodeCbor(event!.payload)).toEqual({
        package_id: pkg.id,
        name: 'app',
        producer: 'ci',
        subject: pkg.subject,
        retention_class: 'standard',
        ttl_days: 90,
        metadata: { build: 7, tags: ['a'] },
      });
      expect(await registry.getPackage(pkg.id)).toEqual(pkg);
    });

    it('refuses an unknown retention class and writes nothing', async () => {
      const before = await head();
      const packages = await rowCount('artifact_packages');
      const attempt = registry.createPackage(input({ retention_class: 'forever' }), ACTOR);
      await expect(attempt).rejects.toThrow(UnknownRetentionClassError);
      await expect(attempt).rejects.toMatchObject({
        code: 'unknown_retention_class',
        known: ['ephemeral', 'long_term', 'permanent', 'standard'],
      });
      expect(await head()).toBe(before);
      expect(await rowCount('artifact_packages')).toBe(packages);
    });

    it.each([
      ['name', { name: '' }],
      ['producer', { producer: 'x'.repeat(257) }],
      ['subject', { subject: 'a\u0007b' }],
      ['metadata', { metadata: [] as unknown as Record<string, unknown> }],
      ['metadata', { metadata: { a: 'nul\u0000' } }],
      ['retention_class', { retention_class: 7 as unknown as string }],
    ])('refuses a bad %s with InvalidInputError and writes nothing', async (field, overrides) => {
      const before = await head();
      await expect(registry.createPackage(input(overrides), ACTOR)).rejects.toMatchObject({
        code: 'invalid_input',
        field: expect.stringContaining(field) as string,
      });
      expect(await head()).toBe(before);
    });

    it('refuses an empty actor', async () => {
      await expect(registry.createPackage(input(), '')).rejects.toThrow(InvalidInputError);
    });

    it('creates a package with the id it is given; a taken id is PackageConflictError and writes nothing', async () => {
      const id = randomUUID();
      const pkg = await registry.createPackage(input({ id }), ACTOR);
      expect(pkg).toMatchObject({ id, status: 'created' });
      expect(decodeCbor((await eventsOf(id))[0]!.payload)).toMatchObject({ package_id: id });

      const before = await head();
      const attempt = registry.createPackage(input({ id }), 'bob');
      await expect(attempt).rejects.toThrow(PackageConflictError);
      await expect(attempt).rejects.toMatchObject({ code: 'package_conflict', packageId: id });
      // A deleted package keeps its id.
      await registry.deletePackage(id, 'gone', ACTOR, 'created');
      const afterDelete = await head();
      await expect(registry.createPackage(input({ id }), ACTOR)).rejects.toThrow(PackageConflictError);
      expect(await head()).toBe(afterDelete);
      expect(afterDelete).toBe(before + 1);
      expect(await rowCount('artifact_packages', 'id = ?', [id])).toBe(1);
    });

    it.each([
      ['upper case', '01890A5D-AC96-774B-BCCE-B302099A8057'],
      ['not a UUID', 'webapp-1'],
      ['not text', 7],
    ])('refuses an id that is %s as invalid input', async (_case, id) => {
      const before = await head();
      await expect(
        registry.createPackage(input({ id: id as unknown as string }), ACTOR),
      ).rejects.toMatchObject({ code: 'invalid_input', field: 'id' });
      expect(await head()).toBe(before);
    });

    it('of two concurrent creates with one id, exactly one wins', async () => {
      const id = randomUUID();
      const results = await Promise.allSettled([
        registry.createPackage(input({ id }), ACTOR),
        registry.createPackage(input({ id }), 'bob'),
      ]);
      expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
      const [refused] = results.filter((result) => result.status === 'rejected');
      expect(refused?.reason).toBeInstanceOf(PackageConflictError);
      expect(await eventsOf(id)).toHaveLength(1);
    });

    it('with an Idempotency-Key: a retry naming the same id answers its package, another id reuses the key', async () => {
      const id = randomUUID();
      const key = `import-${randomBytes(4).toString('hex')}`;
      const fields = input({ id });
      const first = await registry.createPackageIdempotently(fields, ACTOR, key);
      expect(first).toMatchObject({ created: true, package: { id } });
      const before = await head();
      const retry = await registry.createPackageIdempotently(fields, ACTOR, key);
      expect(retry).toEqual({ created: false, package: first.package });
      await expect(
        registry.createPackageIdempotently({ ...fields, id: randomUUID() }, ACTOR, key),
      ).rejects.toThrow(IdempotencyKeyReusedError);
      // The key without an id still answers the package; another key for the taken id is a conflict.
      const { id: _id, ...withoutId } = fields;
      expect((await registry.createPackageIdempotently(withoutId, ACTOR, key)).package.id).toBe(id);
      await expect(registry.createPackageIdempotently(fields, ACTOR, `${key}-2`)).rejects.toThrow(
        PackageConflictError,
      );
      expect(await head()).toBe(before);
    });

    it('keeps metadata numbers exactly through the views, on every dialect', async () => {
      const metadata = {
        big: 1e300,
        tiny: 5e-324,
        tenth: 0.1,
        max: 9007199254740991,
        neg: -0,
        text: 'é😀',
        deep: { a: [null, true] },
      };
      const pkg = await registry.createPackage(input({ metadata }), ACTOR);
      const { content_address } = await registry.finalizePackage(pkg.id, ACTOR);
      const manifest = decodeManifest((await registry.getManifestBytes(content_address)).bytes);
      expect(manifest.package.metadata).toEqual({ ...metadata, neg: 0 });
      expect(Object.is(manifest.package.metadata.neg, 0)).toBe(true);
      expect((await registry.getPackage(pkg.id)).metadata).toEqual({ ...metadata, neg: 0 });
      // The same key order on every dialect (jsonb would put shorter keys first).
      expect(Object.keys((await registry.getPackage(pkg.id)).metadata)).toEqual(Object.keys(metadata).sort());
    });
  });

  describe('every input rule, through the database', () => {
    const nested = (levels: number): Record<string, unknown> => {
      let value: Record<string, unknown> = {};
      for (let level = 1; level < levels; level++) value = { a: value };
      return value;
    };

    it.each([
      ['name', { name: 'x'.repeat(257) }],
      ['name', { name: 'a\u0085b' }],
      ['producer', { producer: 'a\ud800' }],
      ['subject', { subject: '' }],
      ['metadata', { metadata: { big: 'x'.repeat(65_536) } }],
      ['metadata', { metadata: nested(17) }],
      // eslint-disable-next-line no-sparse-arrays -- the hole is the point
      ['metadata', { metadata: { holes: [1, , 2] } }],
      ['metadata', { metadata: { s: 'a\u0000' } }],
      ['retention_class', { retention_class: 'standard\u0000' }],
    ])('createPackage refuses a bad %s on every dialect alike', async (field, overrides) => {
      const before = await head();
      await expect(
        registry.createPackage(input(overrides as Partial<CreatePackageInput>), ACTOR),
      ).rejects.toMatchObject({
        code: 'invalid_input',
        field: expect.stringContaining(field) as string,
      });
      expect(await head()).toBe(before);
    });

    it('accepts the limits themselves', async () => {
      const pkg = await registry.createPackage(
        input({ name: '😀'.repeat(256), metadata: { ...nested(16), s: 'x'.repeat(65_000) } }),
        ACTOR,
      );
      expect(pkg.name).toBe('😀'.repeat(256));
      const file = await registry.ingestFile(pkg.id, 'é'.repeat(512), undefined, [Buffer.from('x')], ACTOR);
      expect(Buffer.byteLength(file.relative_path)).toBe(1024);
    });

    it.each(['a/', '..', 'a/./b', 'é'.repeat(513), 'a\ud800', 'a\u0080', '/a', 'a\\b'])(
      'ingestFile refuses the path %j and writes nothing',
      async (path) => {
        const pkg = await registry.createPackage(input(), ACTOR);
        const before = await head();
        await expect(
          registry.ingestFile(pkg.id, path, undefined, [Buffer.from('x')], ACTOR),
        ).rejects.toMatchObject({
          code: 'invalid_relative_path',
        });
        expect(await head()).toBe(before);
      },
    );

    it.each([
      [{ name: 'a\u0000' }, 'name'],
      [{ producer: 'x'.repeat(1025) }, 'producer'],
      [
        {
          cursor: Buffer.from(
            JSON.stringify(['not a time', '01890a5d-ac96-774b-bcce-b302099a8057']),
          ).toString('base64url'),
        },
        'cursor',
      ],
      [
        { cursor: Buffer.from(JSON.stringify(['2026-01-01T00:00:00.000Z', 'x'])).toString('base64url') },
        'cursor',
      ],
    ])('listPackages refuses %j as invalid input on every dialect', async (filter, field) => {
      await expect(registry.listPackages(filter)).rejects.toMatchObject({ code: 'invalid_input', field });
    });

    it('listFiles refuses a cursor that does not hold a path', async () => {
      const pkg = await registry.createPackage(input(), ACTOR);
      const cursor = Buffer.from(JSON.stringify(['a\u0000'])).toString('base64url');
      await expect(registry.listFiles(pkg.id, { cursor })).rejects.toMatchObject({
        code: 'invalid_input',
        field: 'cursor',
      });
    });

    it('getManifestBytes refuses an unknown format', async () => {
      const pkg = await registry.createPackage(input(), ACTOR);
      await expect(registry.getManifestBytes(pkg.id, 'xml' as 'json')).rejects.toMatchObject({
        field: 'format',
      });
    });
  });

  describe('ingestFile', () => {
    let pkg: PackageRecord;
    beforeEach(async () => {
      pkg = await registry.createPackage(input(), ACTOR);
    });

    it('writes the file and storage_location rows and a v1.file.ingested event', async () => {
      const bytes = Buffer.from('hello, world\n');
      const file = await registry.ingestFile(
        pkg.id,
        'docs/hello.txt',
        'text/plain; charset=utf-8',
        [bytes],
        ACTOR,
      );
      expect(file).toEqual({
        id: expect.any(String) as string,
        package_id: pkg.id,
        relative_path: 'docs/hello.txt',
        media_type: 'text/plain; charset=utf-8',
        size: bytes.length,
        blake3: blake3(bytes).toString('hex'),
        sha256: sha256(bytes).toString('hex'),
        content_address: `blake3:${blake3(bytes).toString('hex')}`,
        created_at: expect.any(String) as string,
      });
      const [location] = await core.database.read((tx) =>
        tx.query('SELECT id, backend, key FROM storage_locations WHERE file_id = ?', [file.id]),
      );
      expect(location).toEqual({
        id: storageLocationId(file.id, 'fs', blake3(bytes).toString('hex')),
        backend: 'fs',
        key: blake3(bytes).toString('hex'),
      });
      const events = await eventsOf(pkg.id);
      expect(events.map((event) => event.event_type)).toEqual(['v1.package.created', 'v1.file.ingested']);
      expect(decodeCbor(events[1]!.payload)).toMatchObject({
        file_id: file.id,
        relative_path: 'docs/hello.txt',
        size: bytes.length,
        storage: { location_id: asString(location?.id), backend: 'fs', key: blake3(bytes).toString('hex') },
      });
      expect(await registry.getPackage(pkg.id)).toMatchObject({ file_count: 1, total_size: bytes.length });
    });

    it('defaults the media type to application/octet-stream and stores an empty file', async () => {
      const file = await registry.ingestFile(pkg.id, 'empty', undefined, [], ACTOR);
      expect(file).toMatchObject({ media_type: 'application/octet-stream', size: 0 });
    });

    it('stores the path NFC-normalized, so an NFD spelling of it is a duplicate', async () => {
      const file = await registry.ingestFile(pkg.id, 'cafe\u0301.txt', undefined, [Buffer.from('1')], ACTOR);
      expect(file.relative_path).toBe('caf\u00e9.txt');
      await expect(
        registry.ingestFile(pkg.id, 'caf\u00e9.txt', undefined, [Buffer.from('2')], ACTOR),
      ).rejects.toThrow(DuplicateRelativePathError);
      expect((await registry.findFileByPath(pkg.id, 'cafe\u0301.txt')).id).toBe(file.id);
    });

    it('refuses a duplicate relative_path before reading any byte', async () => {
      await registry.ingestFile(pkg.id, 'a.txt', undefined, [Buffer.from('1')], ACTOR);
      const before = await head();
      let pulled = false;
      const source = (function* () {
        pulled = true;
        yield Buffer.from('2');
      })();
      const attempt = registry.ingestFile(pkg.id, 'a.txt', undefined, source, ACTOR);
      await expect(attempt).rejects.toThrow(DuplicateRelativePathError);
      await expect(attempt).rejects.toMatchObject({ code: 'duplicate_relative_path' });
      expect(pulled).toBe(false);
      expect(await head()).toBe(before);
    });

    it.each([
      ['a/b', 'a'],
      ['a', 'a/b'],
      ['x/y/z', 'x/y'],
      ['x/y', 'x/y/z/w'],
    ])('refuses %s beside %s as a path conflict', async (first, second) => {
      await registry.ingestFile(pkg.id, first, undefined, [Buffer.from(first)], ACTOR);
      const attempt = registry.ingestFile(pkg.id, second, undefined, [Buffer.from(second)], ACTOR);
      await expect(attempt).rejects.toThrow(PathConflictError);
      await expect(attempt).rejects.toMatchObject({
        code: 'path_conflict',
        relativePath: second,
        conflictsWith: first,
      });
    });

    it('does not take siblings that only share a prefix for conflicts', async () => {
      for (const path of ['a', 'a.txt', 'a0', 'a-b/c', 'ab/c']) {
        await registry.ingestFile(pkg.id, path, undefined, [Buffer.from(path)], ACTOR);
      }
      expect((await registry.listFiles(pkg.id)).items.map((file) => file.relative_path)).toEqual([
        'a',
        'a-b/c',
        'a.txt',
        'a0',
        'ab/c',
      ]);
    });

    it('refuses an unknown package', async () => {
      const attempt = registry.ingestFile('01890a5d-ac96-774b-bcce-b302099a8057', 'a', undefined, [], ACTOR);
      await expect(attempt).rejects.toThrow(PackageNotFoundError);
      await expect(attempt).rejects.toMatchObject({ code: 'package_not_found' });
    });

    it('refuses a malformed package id as invalid input', async () => {
      await expect(registry.ingestFile('not-a-uuid', 'a', undefined, [], ACTOR)).rejects.toMatchObject({
        code: 'invalid_input',
        field: 'package_id',
      });
    });

    it('refuses a finalized package', async () => {
      await registry.finalizePackage(pkg.id, ACTOR);
      const attempt = registry.ingestFile(pkg.id, 'late.txt', undefined, [Buffer.from('x')], ACTOR);
      await expect(attempt).rejects.toThrow(IllegalPackageStateError);
      await expect(attempt).rejects.toMatchObject({ code: 'illegal_package_state', status: 'finalized' });
    });

    it.each(['', '/abs', 'a/../b', 'a\\b', 'a//b', 'x\ny', '.', 'x'.repeat(1025)])(
      'refuses the path %j and writes nothing',
      async (path) => {
        const before = await head();
        const attempt = registry.ingestFile(pkg.id, path, undefined, [Buffer.from('x')], ACTOR);
        await expect(attempt).rejects.toThrow(InvalidRelativePathError);
        await expect(attempt).rejects.toMatchObject({ code: 'invalid_relative_path' });
        expect(await head()).toBe(before);
      },
    );

    it.each(['text', 'text/plain; x', 'a/b'.padEnd(256, 'c')])(
      'refuses the media type %j',
      async (mediaType) => {
        await expect(registry.ingestFile(pkg.id, 'm', mediaType, [], ACTOR)).rejects.toMatchObject({
          code: 'invalid_input',
          field: 'media_type',
        });
      },
    );

    it('leaves no row and no event when the stream fails half-way', async () => {
      const before = await head();
      async function* failing(): AsyncGenerator<Buffer> {
        yield randomBytes(1024);
        await new Promise((resolve) => setImmediate(resolve));
        throw new Error('client went away');
      }
      await expect(registry.ingestFile(pkg.id, 'broken.bin', undefined, failing(), ACTOR)).rejects.toThrow(
        IncompleteStreamError,
      );
      const source = new Readable({ read() {} });
      source.push(randomBytes(100));
      setImmediate(() => source.destroy(new Error('aborted')));
      await expect(registry.ingestFile(pkg.id, 'aborted.bin', undefined, source, ACTOR)).rejects.toThrow(
        IncompleteStreamError,
      );
      expect(await head()).toBe(before);
      expect(await rowCount('artifact_files', 'package_id = ?', [pkg.id])).toBe(0);
      expect(await readdir(join(testDatabase.config.dataDir, 'blobs', 'tmp'))).toEqual([]);
    });

    it('survives a source that fails during the early checks, and reports it as an incomplete stream', async () => {
      const before = await head();
      const source = new Readable({ read() {} });
      // Fails before the registry has read a byte: while it is still checking the package and the path.
      queueMicrotask(() => source.destroy(new Error('hung up')));
      await expect(registry.ingestFile(pkg.id, 'early.bin', undefined, source, ACTOR)).rejects.toThrow(
        IncompleteStreamError,
      );
      expect(await head()).toBe(before);
    });

    it('refuses bytes that do not match the declared digest and stores nothing', async () => {
      const before = await head();
      const bytes = randomBytes(2048);
      await expect(
        registry.ingestFile(pkg.id, 'x.bin', undefined, [bytes], ACTOR, { expectedSha256: sha256('other') }),
      ).rejects.toThrow(DigestMismatchError);
      expect(await head()).toBe(before);
      expect(await core.blobStore.exists(blake3(bytes).toString('hex'))).toBe(false);
    });

    it('stores identical bytes in two packages once', async () => {
      const other = await registry.createPackage(input(), ACTOR);
      const bytes = randomBytes(4096);
      const first = await registry.ingestFile(pkg.id, 'same.bin', undefined, [bytes], ACTOR);
      const second = await registry.ingestFile(other.id, 'copy/same.bin', undefined, [bytes], ACTOR);
      expect(first.content_address).toBe(second.content_address);
      const keys: string[] = [];
      for await (const key of core.blobStore.list()) if (key === first.blake3) keys.push(key);
      expect(keys).toEqual([first.blake3]);
      const locations = await core.database.read((tx) =>
        tx.query('SELECT id, key FROM storage_locations WHERE key = ? ORDER BY id', [first.blake3]),
      );
      expect(locations).toHaveLength(2);
      expect(new Set(locations.map((row) => row.id)).size).toBe(2);
    });

    it('of two concurrent uploads of one path, exactly one wins', async () => {
      const one = heldSource(Buffer.from('one-'), Buffer.from('1'));
      const two = heldSource(Buffer.from('two-'), Buffer.from('2'));
      const first = registry.ingestFile(pkg.id, 'race.txt', undefined, one.source, ACTOR);
      const second = registry.ingestFile(pkg.id, 'race.txt', undefined, two.source, ACTOR);
      // Both are streaming, so both passed the early check.
      await Promise.all([one.started, two.started]);
      one.release();
      two.release();
      const results = await Promise.allSettled([first, second]);
      expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
      const [failure] = results.filter((result) => result.status === 'rejected');
      expect(failure?.reason).toBeInstanceOf(DuplicateRelativePathError);
      // The loser's bytes were stored before the commit failed; they stay for garbage collection.
      expect(await core.blobStore.exists(blake3(Buffer.from('two-2')).toString('hex'))).toBe(true);
      expect(await core.blobStore.exists(blake3(Buffer.from('one-1')).toString('hex'))).toBe(true);
      expect(await rowCount('artifact_files', 'package_id = ?', [pkg.id])).toBe(1);
      expect(
        (await eventsOf(pkg.id)).filter((event) => event.event_type === 'v1.file.ingested'),
      ).toHaveLength(1);
    });

    it('of two concurrent uploads that conflict as file and directory, exactly one wins', async () => {
      const one = heldSource(Buffer.from('f'), Buffer.from('ile'));
      const two = heldSource(Buffer.from('d'), Buffer.from('ir'));
      const first = registry.ingestFile(pkg.id, 'p', undefined, one.source, ACTOR);
      const second = registry.ingestFile(pkg.id, 'p/q', undefined, two.source, ACTOR);
      await Promise.all([one.started, two.started]);
      two.release();
      await second;
      one.release();
      await expect(first).rejects.toThrow(PathConflictError);
      expect((await registry.listFiles(pkg.id)).items.map((file) => file.relative_path)).toEqual(['p/q']);
    });

    it('fails an upload that has not committed when finalize takes the package', async () => {
      await registry.ingestFile(pkg.id, 'early.txt', undefined, [Buffer.from('early')], ACTOR);
      const held = heldSource(Buffer.from('la'), Buffer.from('te'));
      const late = registry.ingestFile(pkg.id, 'late.txt', undefined, held.source, ACTOR);
      await held.started;
      const finalized = await registry.finalizePackage(pkg.id, ACTOR);
      held.release();
      await expect(late).rejects.toThrow(IllegalPackageStateError);
      const manifest = decodeManifest((await registry.getManifestBytes(pkg.id)).bytes);
      expect(manifest.files.map((file) => file.relative_path)).toEqual(['early.txt']);
      expect(await registry.getPackage(pkg.id)).toMatchObject({
        status: 'finalized',
        file_count: 1,
        content_address: finalized.content_address,
      });
      expect((await eventsOf(pkg.id)).map((event) => event.event_type)).toEqual([
        'v1.package.created',
        'v1.file.ingested',
        'v1.package.finalized',
      ]);
    });
  });

  describe('portable paths (ARTIFACTSTORE_PATH_POLICY=portable, the default)', () => {
    const { portablePaths } = vectors;
    const add = (packageId: string, path: string) =>
      registry.ingestFile(packageId, path, undefined, [Buffer.from(path)], ACTOR);

    it.each(portablePaths.refused)('refuses %j (%s) and writes nothing', async (path, rule) => {
      const pkg = await registry.createPackage(input(), ACTOR);
      const before = await head();
      const attempt = add(pkg.id, path);
      await expect(attempt).rejects.toThrow(InvalidRelativePathError);
      await expect(attempt).rejects.toMatchObject({
        code: 'invalid_relative_path',
        reason: expect.stringMatching(PORTABLE_RULE_REASONS[rule] ?? /unknown rule/) as string,
      });
      expect(await head()).toBe(before);
    });

    it('takes every portable path of the golden vectors into one package', async () => {
      const pkg = await registry.createPackage(input(), ACTOR);
      for (const path of portablePaths.accepted) await add(pkg.id, path);
      expect(await registry.getPackage(pkg.id)).toMatchObject({ file_count: portablePaths.accepted.length });
    });

    it.each(portablePaths.colliding)(
      'refuses %j beside %j, either way round, as a path conflict naming the other',
      async (a, b) => {
        for (const [first, second] of [
          [a, b],
          [b, a],
        ] as const) {
          const pkg = await registry.createPackage(input(), ACTOR);
          await add(pkg.id, first);
          const before = await head();
          const attempt = add(pkg.id, second);
          await expect(attempt).rejects.toThrow(PathConflictError);
          await expect(attempt).rejects.toMatchObject({
            code: 'path_conflict',
            relativePath: second,
            conflictsWith: first,
            reason: expect.stringMatching(/differ only by letter case$/) as string,
          });
          expect(await head()).toBe(before);
        }
      },
    );

    it.each(portablePaths.distinct)('takes %j beside %j', async (a, b) => {
      const pkg = await registry.createPackage(input(), ACTOR);
      await add(pkg.id, a);
      await add(pkg.id, b);
      expect(await registry.getPackage(pkg.id)).toMatchObject({ file_count: 2 });
    });

    it('names a file under the directory that differs only by case, and which directories differ', async () => {
      const pkg = await registry.createPackage(input(), ACTOR);
      await add(pkg.id, 'Dir/x');
      await add(pkg.id, 'Dir/sub/z');
      await add(pkg.id, 'Dir/sub/y.txt');
      await expect(add(pkg.id, 'dir/y')).rejects.toThrow(
        new PathConflictError('dir/y', 'Dir/sub/y.txt', '"dir" and "Dir" differ only by letter case'),
      );
      await expect(add(pkg.id, 'Dir/SUB/y.txt.gz')).rejects.toThrow(
        new PathConflictError(
          'Dir/SUB/y.txt.gz',
          'Dir/sub/y.txt',
          '"Dir/SUB" and "Dir/sub" differ only by letter case',
        ),
      );
      await expect(add(pkg.id, 'Dir/Sub')).rejects.toMatchObject({ conflictsWith: 'Dir/sub/y.txt' });
      await expect(add(pkg.id, 'Dir/x/y')).rejects.toThrow(new PathConflictError('Dir/x/y', 'Dir/x'));
      await expect(add(pkg.id, 'Dir/X/y')).rejects.toMatchObject({ conflictsWith: 'Dir/x' });
      await add(pkg.id, 'Dir/sub/other');
      await add(pkg.id, 'Dirs/x');
    });

    it('of two concurrent uploads of A.txt and a.txt, exactly one wins', async () => {
      const pkg = await registry.createPackage(input(), ACTOR);
      const one = heldSource(Buffer.from('up'), Buffer.from('per'));
      const two = heldSource(Buffer.from('low'), Buffer.from('er'));
      const first = registry.ingestFile(pkg.id, 'A.txt', undefined, one.source, ACTOR);
      const second = registry.ingestFile(pkg.id, 'a.txt', undefined, two.source, ACTOR);
      await Promise.all([one.started, two.started]);
      two.release();
      await second;
      one.release();
      await expect(first).rejects.toMatchObject({ code: 'path_conflict', conflictsWith: 'a.txt' });
      expect((await registry.listFiles(pkg.id)).items.map((file) => file.relative_path)).toEqual(['a.txt']);
    });

    it('checks staged bytes when they are attached, as an upload', async () => {
      const pkg = await registry.createPackage(input(), ACTOR);
      await add(pkg.id, 'Makefile');
      const staged = await registry.stageFile(pkg.id, [Buffer.from('x')]);
      await expect(registry.attachFile(pkg.id, 'makefile', undefined, staged, ACTOR)).rejects.toMatchObject({
        code: 'path_conflict',
        conflictsWith: 'Makefile',
      });
      await expect(registry.attachFile(pkg.id, 'nul.txt', undefined, staged, ACTOR)).rejects.toMatchObject({
        code: 'invalid_relative_path',
      });
    });
  });

  describe('the posix path policy (ARTIFACTSTORE_PATH_POLICY=posix)', () => {
    let posixDatabase: TestDatabase;
    let posix: CoreHarness;

    beforeEach(async () => {
      posixDatabase = await dialectUnderTest.create({ ARTIFACTSTORE_PATH_POLICY: 'posix' });
      posix = await startCore(posixDatabase);
    });

    afterEach(async () => {
      await posix.close();
      await posixDatabase.dispose();
    });

    const add = (core: CoreHarness, packageId: string, path: string) =>
      core.registry.ingestFile(packageId, path, undefined, [Buffer.from(path)], ACTOR);

    it('takes the paths the portable rule refuses, and paths that differ only by letter case', async () => {
      const refused = await posix.registry.createPackage(input(), ACTOR);
      for (const [path = ''] of vectors.portablePaths.refused) await add(posix, refused.id, path);
      expect(await posix.registry.getPackage(refused.id)).toMatchObject({
        file_count: vectors.portablePaths.refused.length,
      });
      for (const pair of vectors.portablePaths.colliding) {
        const pkg = await posix.registry.createPackage(input(), ACTOR);
        for (const path of pair) await add(posix, pkg.id, path);
        expect(await posix.registry.getPackage(pkg.id)).toMatchObject({ file_count: 2 });
      }
      await expect(add(posix, refused.id, 'CON/x')).rejects.toThrow(PathConflictError);
    });

    it('keeps those files under the portable policy, which refuses new case twins; replay is byte-identical', async () => {
      const pkg = await posix.registry.createPackage(input(), ACTOR);
      for (const path of ['A.txt', 'a.txt', 'Dir/x', 'dir/y']) await add(posix, pkg.id, path);
      await posix.close();
      // AppConfig is plain data, every field an own property: a copy with one field changed.
      const values: Omit<AppConfig, never> = posixDatabase.config;
      const portableConfig = new AppConfig({ ...values, pathPolicy: 'portable' });
      posix = await startCore({ ...posixDatabase, config: portableConfig });
      const portable = posix.registry;
      expect((await portable.findFileByPath(pkg.id, 'a.txt')).relative_path).toBe('a.txt');
      await expect(add(posix, pkg.id, 'A.TXT')).rejects.toMatchObject({
        code: 'path_conflict',
        conflictsWith: 'A.txt',
      });
      await expect(add(posix, pkg.id, 'DIR/z')).rejects.toMatchObject({
        code: 'path_conflict',
        conflictsWith: 'Dir/x',
      });
      await add(posix, pkg.id, 'b.txt');
      await portable.finalizePackage(pkg.id, ACTOR);
      const manifest = decodeManifest((await portable.getManifestBytes(pkg.id)).bytes);
      expect(manifest.files.map((file) => file.relative_path)).toEqual([
        'A.txt',
        'Dir/x',
        'a.txt',
        'b.txt',
        'dir/y',
      ]);
      const report = await portable.replayViews();
      expect(report.state_digest_after).toBe(report.state_digest_before);
    });
  });

  describe('finalizePackage and manifests', () => {
    it('finalizes an empty package; a second finalize is refused', async () => {
      const pkg = await registry.createPackage(input({ retention_class: 'ephemeral' }), ACTOR);
      const result = await registry.finalizePackage(pkg.id, ACTOR);
      expect(result).toEqual({
        id: pkg.id,
        status: 'finalized',
        content_address: `blake3:${result.manifest_digest}`,
        manifest_digest: expect.stringMatching(/^[0-9a-f]{64}$/) as string,
      });
      const attempt = registry.finalizePackage(pkg.id, ACTOR);
      await expect(attempt).rejects.toThrow(IllegalPackageStateError);
      await expect(attempt).rejects.toMatchObject({ code: 'illegal_package_state' });
      const finalized = await registry.getPackage(pkg.id);
      expect(finalized.finalized_at).not.toBeNull();
      // ephemeral: 7 days after finalization.
      expect(Date.parse(finalized.expires_at!) - Date.parse(finalized.finalized_at!)).toBe(7 * 86_400_000);
      expect(decodeManifest((await registry.getManifestBytes(pkg.id)).bytes).files).toEqual([]);
    });

    it('refuses to finalize an unknown package', async () => {
      await expect(registry.finalizePackage('01890a5d-ac96-774b-bcce-b302099a8057', ACTOR)).rejects.toThrow(
        PackageNotFoundError,
      );
    });

    it('keeps permanent packages without an expiry', async () => {
      const pkg = await registry.createPackage(input({ retention_class: 'permanent' }), ACTOR);
      await registry.finalizePackage(pkg.id, ACTOR);
      expect((await registry.getPackage(pkg.id)).expires_at).toBeNull();
    });

    it('serves no manifest before finalization, and none for an unknown content address', async () => {
      const pkg = await registry.createPackage(input(), ACTOR);
      await expect(registry.getManifestBytes(pkg.id)).rejects.toThrow(IllegalPackageStateError);
      const unknown = `blake3:${'0'.repeat(64)}`;
      await expect(registry.getManifestBytes(unknown)).rejects.toThrow(ManifestNotFoundError);
      await expect(registry.resolveContentAddress(unknown)).rejects.toMatchObject({
        code: 'manifest_not_found',
      });
      await expect(registry.resolveContentAddress('blake3:XYZ')).rejects.toMatchObject({
        code: 'invalid_input',
      });
    });
  });

  describe('reads', () => {
    it('lists packages newest first with filters and cursors', async () => {
      const producer = `lister-${randomBytes(3).toString('hex')}`;
      const made: PackageRecord[] = [];
      for (let i = 0; i < 5; i++)
        made.push(await registry.createPackage(input({ producer, name: `n${i % 2}` }), ACTOR));
      await registry.finalizePackage(made[1]!.id, ACTOR);
      const newestFirst = [...made].reverse().map((pkg) => pkg.id);

      const first = await registry.listPackages({ producer, limit: 2 });
      expect(first.items.map((pkg) => pkg.id)).toEqual(newestFirst.slice(0, 2));
      expect(first.next_cursor).toEqual(expect.any(String));
      const second = await registry.listPackages({ producer, limit: 2, cursor: first.next_cursor! });
      expect(second.items.map((pkg) => pkg.id)).toEqual(newestFirst.slice(2, 4));
      const third = await registry.listPackages({ producer, limit: 2, cursor: second.next_cursor! });
      expect(third.items.map((pkg) => pkg.id)).toEqual(newestFirst.slice(4));
      expect(third.next_cursor).toBeNull();

      expect((await registry.listPackages({ producer, name: 'n0' })).items).toHaveLength(3);
      const finalized = await registry.listPackages({ producer, status: 'finalized' });
      expect(finalized.items.map((pkg) => pkg.id)).toEqual([made[1]!.id]);
      expect(finalized.items[0]?.content_address).toMatch(/^blake3:/);
      await expect(registry.listPackages({ status: 'open' })).rejects.toMatchObject({ field: 'status' });
      await expect(registry.listPackages({ limit: 0 })).rejects.toMatchObject({ field: 'limit' });
      await expect(registry.listPackages({ limit: 1001 })).rejects.toMatchObject({ field: 'limit' });
      await expect(registry.listPackages({ cursor: 'garbage' })).rejects.toMatchObject({ field: 'cursor' });
    });

    it('lists files in UTF-8 byte order of their paths, page by page', async () => {
      const pkg = await registry.createPackage(input(), ACTOR);
      const paths = ['😀', '～', 'b', 'C', 'a/z', 'a/b', 'é'];
      for (const path of paths)
        await registry.ingestFile(pkg.id, path, undefined, [Buffer.from(path)], ACTOR);
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await registry.listFiles(pkg.id, { limit: 3, cursor });
        seen.push(...page.items.map((file) => file.relative_path));
        cursor = page.next_cursor ?? undefined;
      } while (cursor !== undefined);
      expect(seen).toEqual(['C', 'a/b', 'a/z', 'b', 'é', '～', '😀']);
      await expect(registry.listFiles('01890a5d-ac96-774b-bcce-b302099a8057')).rejects.toThrow(
        PackageNotFoundError,
      );
    });

    it('serves a file by id and by path, whole or by range; unknown files are FileNotFoundError', async () => {
      const pkg = await registry.createPackage(input(), ACTOR);
      const bytes = randomBytes(100_000);
      const file = await registry.ingestFile(pkg.id, 'data/blob.bin', undefined, [bytes], ACTOR);
      const byId = await registry.findFile(file.id);
      expect(byId).toEqual(file);
      expect((await readAll(await registry.openFile(byId))).equals(bytes)).toBe(true);
      const byPath = await registry.findFileByPath(pkg.id, 'data/blob.bin');
      expect(byPath).toEqual(file);
      const range = await registry.openFile(byPath, { start: 10, end: 19 });
      expect((await readAll(range)).equals(bytes.subarray(10, 20))).toBe(true);
      await expect(registry.findFile('01890a5d-ac96-774b-bcce-b302099a8057')).rejects.toThrow(
        FileNotFoundError,
      );
      await expect(registry.findFileByPath(pkg.id, 'data/missing')).rejects.toMatchObject({
        code: 'file_not_found',
      });
    });
  });

  it('finalizes a 10,000-file package into the golden manifest (views read back in byte order)', async () => {
    // The files are recorded straight through the projector (no bytes stored): this is about the manifest.
    await core.database.write(async (tx) => {
      await core.projector.appendAndApply(
        tx,
        packageCreatedEvent(ACTOR, {
          package_id: TEN_THOUSAND_PACKAGE.id,
          name: TEN_THOUSAND_PACKAGE.name,
          producer: TEN_THOUSAND_PACKAGE.producer,
          subject: TEN_THOUSAND_PACKAGE.subject,
          retention_class: 'standard',
          ttl_days: 90,
          metadata: TEN_THOUSAND_PACKAGE.metadata,
        }),
      );
      for (const file of tenThousandFiles()) {
        const fileId = uuidv7();
        const key = toHex(file.blake3);
        await core.projector.appendAndApply(
          tx,
          fileIngestedEvent(ACTOR, {
            ...file,
            file_id: fileId,
            package_id: TEN_THOUSAND_PACKAGE.id,
            storage: { location_id: storageLocationId(fileId, 'fs', key), backend: 'fs', key },
          }),
        );
      }
    });
    const result = await registry.finalizePackage(TEN_THOUSAND_PACKAGE.id, ACTOR);
    expect(result.content_address).toBe(vectors.tenThousandFiles.contentAddress);
    const manifest = await registry.getManifestBytes(result.content_address);
    expect(manifest.bytes).toHaveLength(vectors.tenThousandFiles.size);
    expect(decodeManifest(manifest.bytes).files).toHaveLength(10_000);
  }, 180_000); // 10,000 appends in one transaction: PostgreSQL's round trips under a busy CI machine

  it('end to end: create, ingest three files, finalize, manifests, downloads, tail, replay', async () => {
    const since = await head();
    const pkg = await registry.createPackage(input({ name: 'e2e', metadata: { build: 42 } }), ACTOR);
    const contents = new Map<string, Buffer>([
      ['bin/tool', randomBytes(300_000)],
      ['README.md', Buffer.from('# hello\n')],
      ['lib/data.json', Buffer.from('{"a":1}')],
    ]);
    for (const [path, bytes] of contents) {
      await registry.ingestFile(
        pkg.id,
        path,
        path.endsWith('.json') ? 'application/json' : undefined,
        Readable.from([bytes]),
        ACTOR,
        {
          expectedSize: bytes.length,
          expectedBlake3: blake3(bytes),
        },
      );
    }
    const finalized = await registry.finalizePackage(pkg.id, ACTOR);

    const cbor = await registry.getManifestBytes(pkg.id, 'cbor');
    expect(`blake3:${blake3(cbor.bytes).toString('hex')}`).toBe(finalized.content_address);
    expect(cbor.content_address).toBe(finalized.content_address);
    const manifest = decodeManifest(cbor.bytes);
    expect(manifest.package).toEqual({
      id: pkg.id,
      name: 'e2e',
      producer: 'ci',
      subject: pkg.subject,
      metadata: { build: 42 },
    });
    expect(manifest.files.map((file) => file.relative_path)).toEqual([
      'README.md',
      'bin/tool',
      'lib/data.json',
    ]);
    const byAddress = await registry.getManifestBytes(finalized.content_address, 'cbor');
    expect(byAddress.bytes.equals(cbor.bytes)).toBe(true);
    const json = await registry.getManifestBytes(finalized.content_address, 'json');
    const parsed = JSON.parse(json.bytes.toString('utf8')) as {
      files: { relative_path: string; sha256: string }[];
    };
    expect(parsed.files.map((file) => file.relative_path)).toEqual([
      'README.md',
      'bin/tool',
      'lib/data.json',
    ]);
    expect(parsed.files[0]?.sha256).toBe(sha256(contents.get('README.md')!).toString('hex'));

    for (const entry of manifest.files) {
      const bytes = await readAll(
        await registry.openFile(await registry.findFileByPath(pkg.id, entry.relative_path)),
      );
      expect(bytes.equals(contents.get(entry.relative_path)!)).toBe(true);
      expect(blake3(bytes).equals(Buffer.from(entry.blake3))).toBe(true);
    }
    expect(await text(Readable.from([json.bytes]))).toContain('"schema":"artifactstore.manifest.v1"');

    const controller = new AbortController();
    const tailed: Event[] = [];
    for await (const event of registry.tailEvents(since, { signal: controller.signal })) {
      tailed.push(event);
      if (tailed.length === 5) break;
    }
    expect(tailed.map((event) => event.event_type)).toEqual([
      'v1.package.created',
      'v1.file.ingested',
      'v1.file.ingested',
      'v1.file.ingested',
      'v1.package.finalized',
    ]);
    expect(tailed.map((event) => event.sequence)).toEqual([
      since + 1,
      since + 2,
      since + 3,
      since + 4,
      since + 5,
    ]);
    expect(tailed[4]?.payload.equals(cbor.bytes)).toBe(true);

    const dumpBefore = await core.database.read((tx) => dumpState(tx));
    const report = await registry.replayViews();
    expect(report.head_sequence).toBe(await head());
    expect(report.state_digest_after).toBe(report.state_digest_before);
    expect(await core.database.read((tx) => dumpState(tx))).toEqual(dumpBefore);
    expect((await core.database.read((tx) => stateDigest(tx))).toString('hex')).toBe(
      report.state_digest_before,
    );
    expect(await registry.verifyChain()).toMatchObject({ ok: true });
  });
});
