import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  blake3,
  decodeCbor,
  decodeEntryBundle,
  formatVerifierKey,
  openNote,
  parseCheckpoint,
  parseVerifierKey,
  rawEd25519PublicKey,
  verifyConsistency,
  verifyInclusion,
  type CborValue,
  uuidv7,
} from '@artifactstore/codec';
import { loadConfig } from '@artifactstore/config';
import { chainDigest, encodeLogEntry, makeEvent, type Event } from '@artifactstore/events';
import {
  IllegalPackageStateError,
  LogRangeError,
  TransparencyLog,
  type Registry,
} from '@artifactstore/registry';
import { packageCreatedEvent, stateDigest } from '@artifactstore/views';
import { openCore, type CoreContext } from '../support/core-context.js';
import { createScratchSqlite } from '../support/scratch-database.js';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';

const ACTOR = 'ci';

/** RFC 9162 §2.1.1 straight from its definition, over leaf hashes: the reference the stored tree must match. */
function naiveRoot(leaves: readonly Buffer[]): Buffer {
  if (leaves.length === 0) return createHash('sha256').digest();
  if (leaves.length === 1) return leaves[0] as Buffer;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return createHash('sha256')
    .update(Buffer.from([1]))
    .update(naiveRoot(leaves.slice(0, k)))
    .update(naiveRoot(leaves.slice(k)))
    .digest();
}

const naiveLeaf = (entry: Buffer): Buffer =>
  createHash('sha256')
    .update(Buffer.from([0]))
    .update(entry)
    .digest();

/** A synthetic event of a type no view knows: only the tree takes it. */
function syntheticEvent(sequence: number): Event {
  const draft = makeEvent(
    { event_type: 'v1.test.tick', subject_kind: 'test', subject_id: `tick-${sequence}`, actor: ACTOR },
    { n: sequence },
  );
  return {
    ...draft,
    sequence,
    created_at: '2026-12-04T00:00:00.000Z',
    chain_digest: Buffer.alloc(32),
  };
}

describe.each(dialectsUnderTest())('transparency log on $dialect', (dialect) => {
  let testDatabase: TestDatabase;
  let core: CoreContext;
  let registry: Registry;
  let log: TransparencyLog;

  beforeAll(async () => {
    testDatabase = await dialect.create({ ARTIFACTSTORE_GC_INTERVAL_SECONDS: '0' });
    core = await openCore(testDatabase.config);
    registry = core.registry;
    log = core.app.get(TransparencyLog);
  });

  afterAll(async () => {
    await core.app.close();
    await testDatabase.dispose();
  });

  const publish = async (files = 2): Promise<{ id: string; contentAddress: string }> => {
    const pkg = await registry.createPackage(
      {
        name: `app-${randomBytes(3).toString('hex')}`,
        producer: 'ci',
        subject: 'git:1',
        retention_class: 'standard',
      },
      ACTOR,
    );
    for (let i = 0; i < files; i++) {
      await registry.ingestFile(pkg.id, `f${i}.bin`, undefined, [randomBytes(32)], ACTOR);
    }
    const { content_address } = await registry.finalizePackage(pkg.id, ACTOR);
    return { id: pkg.id, contentAddress: content_address };
  };

  const allEvents = (): Promise<Event[]> => core.eventLog.fetchSince(0, 1_000_000);
  const verifier = () => parseVerifierKey(log.verifierKey);

  it('keeps leaf i as the i-th event, and signs checkpoints of the naive root', async () => {
    for (let i = 0; i < 3; i++) await publish();
    const events = await allEvents();
    const checkpoint = await log.checkpoint();
    expect(checkpoint.size).toBe(events.length);
    expect(checkpoint.root).toEqual(naiveRoot(events.map((event) => naiveLeaf(encodeLogEntry(event)))));
    const body = parseCheckpoint(openNote(checkpoint.note, verifier()).text);
    expect(body).toEqual({ origin: log.origin, size: events.length, root: checkpoint.root, extensions: [] });
    expect((await log.checkpoint()).note).toBe(checkpoint.note);
  });

  it('creates its key and origin in the data folder and keeps them', async () => {
    const pem = await readFile(join(testDatabase.config.dataDir, 'log-key.pem'), 'utf8');
    expect(pem).toContain('BEGIN PRIVATE KEY');
    const origin = (await readFile(join(testDatabase.config.dataDir, 'log-origin'), 'utf8')).trim();
    expect(origin).toMatch(/^artifactstore\/[0-9a-f]{24}$/);
    expect(log.origin).toBe(origin);
    expect(verifier().name).toBe(origin);
  });

  it('gives receipts that prove a finalization against the checkpoint, now and at an older size', async () => {
    const first = await publish(3);
    const older = (await log.checkpoint()).size;
    await publish(1);
    for (const size of [undefined, older]) {
      const receipt = await log.receipt(first.id, size);
      const checkpoint = parseCheckpoint(openNote(receipt.checkpoint.note, verifier()).text);
      expect(checkpoint.size).toBe(size ?? (await log.checkpoint()).size);
      const entry = decodeCbor(receipt.entry) as CborValue[];
      expect(entry[1]).toBe('v1.package.finalized');
      expect(entry[3]).toBe(first.id);
      expect(`blake3:${Buffer.from(entry[6] as Uint8Array).toString('hex')}`).toBe(first.contentAddress);
      expect(`blake3:${blake3(receipt.manifest).toString('hex')}`).toBe(first.contentAddress);
      expect(
        verifyInclusion(
          receipt.leaf_index,
          checkpoint.size,
          naiveLeaf(receipt.entry),
          receipt.inclusion_proof,
          checkpoint.root,
        ),
      ).toBe(true);
      expect(
        verifyInclusion(
          receipt.leaf_index + 1,
          checkpoint.size,
          naiveLeaf(receipt.entry),
          receipt.inclusion_proof,
          checkpoint.root,
        ),
      ).toBe(false);
    }
  });

  it('refuses a receipt for a package not finalized, or a size before its entry', async () => {
    const pkg = await registry.createPackage(
      { name: 'open', producer: 'ci', subject: 's', retention_class: 'standard' },
      ACTOR,
    );
    await expect(log.receipt(pkg.id)).rejects.toBeInstanceOf(IllegalPackageStateError);
    const done = await publish(1);
    const { leaf_index } = await log.receipt(done.id);
    await expect(log.receipt(done.id, leaf_index)).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(log.receipt(done.id, 10_000_000)).rejects.toBeInstanceOf(LogRangeError);
  });

  it('proves every older size consistent with the head', async () => {
    const head = await log.checkpoint();
    const events = await allEvents();
    const leaves = events.map((event) => naiveLeaf(encodeLogEntry(event)));
    for (let from = 1; from <= head.size; from++) {
      const { proof } = await log.consistency(from);
      expect(verifyConsistency(from, head.size, naiveRoot(leaves.slice(0, from)), head.root, proof)).toBe(
        true,
      );
    }
    await expect(log.consistency(0)).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(log.consistency(2, 1)).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(log.consistency(1, head.size + 1)).rejects.toBeInstanceOf(LogRangeError);
  });

  it('serves entry bundles of the log entries in leaf order', async () => {
    const events = await allEvents();
    const bundle = await log.entryBundle(0, events.length);
    expect(bundle.full).toBe(false);
    expect(decodeEntryBundle(bundle.bytes)).toEqual(events.map((event) => encodeLogEntry(event)));
    await expect(log.entryBundle(0, events.length + 1)).rejects.toBeInstanceOf(LogRangeError);
  });

  it('rebuilds the same tree on replay', async () => {
    const before = await core.database.read((tx) => stateDigest(tx));
    const root = (await log.checkpoint()).root;
    await core.projector.replayAll();
    expect(await core.database.read((tx) => stateDigest(tx))).toEqual(before);
    expect((await log.checkpoint()).root).toEqual(root);
  });

  it('catches up with events it lacks, on the next append and at startup', async () => {
    const expected = await log.checkpoint();
    await core.database.write(async (tx) => {
      await tx.run('DELETE FROM log_tile_hashes');
      await tx.run('DELETE FROM log_leaves WHERE leaf_index >= 2');
    });
    await publish(1);
    const events = await allEvents();
    const now = await log.checkpoint();
    expect(now.root).toEqual(naiveRoot(events.map((event) => naiveLeaf(encodeLogEntry(event)))));
    const { proof } = await log.consistency(expected.size);
    expect(verifyConsistency(expected.size, now.size, expected.root, now.root, proof)).toBe(true);

    await core.database.write((tx) => tx.run('DELETE FROM log_leaves'));
    await core.app.close();
    core = await openCore(testDatabase.config);
    registry = core.registry;
    log = core.app.get(TransparencyLog);
    expect((await log.checkpoint()).root).toEqual(now.root);
  });

  it('keeps leaf indexes dense across sequence gaps', async () => {
    const before = await log.checkpoint();
    // A log copied from another store may skip sequences: import one event that leaves one out.
    const head = await core.eventLog.headEvent();
    if (head === undefined) throw new Error('the log is empty');
    const draft = packageCreatedEvent('carol', {
      package_id: uuidv7(),
      name: 'gap',
      producer: 'p',
      subject: 's',
      retention_class: 'standard',
      ttl_days: null,
      metadata: {},
    });
    const fields = { ...draft, sequence: head.sequence + 2, created_at: head.created_at };
    const skipping: Event = { ...fields, chain_digest: chainDigest(head.chain_digest, fields) };
    await core.database.write(async (tx) => {
      await core.eventLog.lockAppends(tx);
      await core.projector.importAndApply(tx, [skipping]);
    });
    const done = await publish(1);
    const events = await allEvents();
    const receipt = await log.receipt(done.id);
    expect(receipt.leaf_index).toBe(events.length - 1);
    expect((await log.checkpoint()).size).toBe(events.length);
    expect(events.length).toBeGreaterThan(before.size);
  });

  it('stores full tiles at every level and serves them as tlog-tiles lays them out', async () => {
    // 256² + 300 leaves of synthetic events make two levels of full tiles; only the tree projects them.
    const start = (await allEvents()).at(-1)?.sequence ?? 0;
    const synthetic = Array.from({ length: 65_536 + 300 }, (_, i) => syntheticEvent(start + 1 + i));
    await core.database.write(async (tx) => {
      for (let i = 0; i < synthetic.length; i += 5_000) {
        await core.viewWriter.applyBatch(tx, synthetic.slice(i, i + 5_000));
      }
    });
    const realLeaves = (await allEvents()).map((event) => naiveLeaf(encodeLogEntry(event)));
    const leaves = [...realLeaves, ...synthetic.map((event) => naiveLeaf(encodeLogEntry(event)))];
    const checkpoint = await log.checkpoint();
    expect(checkpoint.size).toBe(leaves.length);
    expect(checkpoint.root).toEqual(naiveRoot(leaves));

    const tile0 = await log.tile(0, 3, 256);
    expect(tile0.full).toBe(true);
    expect(tile0.bytes).toEqual(Buffer.concat(leaves.slice(768, 1024)));
    const level1 = await log.tile(1, 0, 256);
    const expectedLevel1 = Array.from({ length: 256 }, (_, t) =>
      naiveRoot(leaves.slice(t * 256, t * 256 + 256)),
    );
    expect(level1.bytes).toEqual(Buffer.concat(expectedLevel1));
    const level2 = await log.tile(2, 0, 1);
    expect(level2.bytes).toEqual(naiveRoot(leaves.slice(0, 65_536)));
    const partial = await log.tile(0, Math.floor(leaves.length / 256), leaves.length % 256);
    expect(partial.full).toBe(false);
    expect(partial.bytes).toEqual(Buffer.concat(leaves.slice(Math.floor(leaves.length / 256) * 256)));
    await expect(log.tile(2, 0, 2)).rejects.toBeInstanceOf(LogRangeError);
    await expect(log.tile(0, Math.floor(leaves.length / 256), 256)).rejects.toBeInstanceOf(LogRangeError);

    for (const index of [0, 255, 256, 65_535, 65_536, leaves.length - 1]) {
      const plan = await log.consistency(index + 1);
      expect(
        verifyConsistency(
          index + 1,
          leaves.length,
          naiveRoot(leaves.slice(0, index + 1)),
          checkpoint.root,
          plan.proof,
        ),
      ).toBe(true);
    }
  });
});

describe('the log key settings', () => {
  it('sign with the key file and origin given', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const scratch = await createScratchSqlite();
    const keyFile = join(scratch.config.dataDir, 'given-key.pem');
    await writeFile(keyFile, privateKey.export({ format: 'pem', type: 'pkcs8' }));
    const config = loadConfig({
      ARTIFACTSTORE_DATA_DIR: scratch.config.dataDir,
      ARTIFACTSTORE_LOG_KEY_FILE: keyFile,
      ARTIFACTSTORE_LOG_ORIGIN: 'artifacts.example.com/log',
    });
    const core = await openCore(config);
    try {
      const log = core.app.get(TransparencyLog);
      expect(log.verifierKey).toBe(
        formatVerifierKey('artifacts.example.com/log', rawEd25519PublicKey(publicKey)),
      );
      const note = (await log.checkpoint()).note;
      expect(parseCheckpoint(openNote(note, parseVerifierKey(log.verifierKey)).text).origin).toBe(
        'artifacts.example.com/log',
      );
      await expect(readFile(join(config.dataDir, 'log-key.pem'))).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      await core.app.close();
      await scratch.dispose();
    }
  });

  it('refuse a key file that is not an Ed25519 private key', () => {
    expect(() => loadConfig({ ARTIFACTSTORE_LOG_KEY_FILE: '/nonexistent/key.pem' })).toThrow(
      /ARTIFACTSTORE_LOG_KEY_FILE: cannot read/,
    );
    expect(() => loadConfig({ ARTIFACTSTORE_LOG_ORIGIN: 'has space' })).toThrow(/ARTIFACTSTORE_LOG_ORIGIN/);
    expect(() => loadConfig({ ARTIFACTSTORE_LOG_ORIGIN: 'a+b' })).toThrow(/ARTIFACTSTORE_LOG_ORIGIN/);
  });
});
