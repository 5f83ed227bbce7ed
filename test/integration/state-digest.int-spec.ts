import { encode as independentEncode, cdeEncodeOptions } from 'cbor2';
import { createHash as createIndependentBlake3 } from 'blake3-wasm';
import { chainDigest, type Event } from '@artifactstore/events';
import { packageCreated } from '../support/sample-events.js';
import { ProjectionError, VIEW_TABLES, dumpState, stateDigest, type StateDump } from '@artifactstore/views';
import { startCore, type CoreHarness } from '../support/app-harness.js';
import { fixedLog, importLog } from '../support/fixed-log.js';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';
import golden from '../fixtures/golden-digests.json' with { type: 'json' };

describe.each(dialectsUnderTest())('state digest of a fixed log on $dialect', (dialectUnderTest) => {
  let testDatabase: TestDatabase;
  let core: CoreHarness;

  beforeAll(async () => {
    testDatabase = await dialectUnderTest.create();
    core = await startCore(testDatabase);
    await importLog(core, fixedLog());
    await core.projector.replayAll();
  });

  afterAll(async () => {
    await core.close();
    await testDatabase.dispose();
  });

  it('replays the fixed log into the golden state digest (the same on every dialect)', async () => {
    const digest = await core.database.read((tx) => stateDigest(tx));
    expect(digest.toString('hex')).toBe(golden.stateDigest);
  });

  it('matches the digest of docs/formats.md computed with an independent CBOR encoder and BLAKE3', async () => {
    const dump = await core.database.read((tx) => dumpState(tx));
    expect(independentStateDigest(dump)).toBe(golden.stateDigest);
  });

  it('dumps normalized rows: RFC 3339 timestamps, JCS metadata, integers', async () => {
    const dump = await core.database.read((tx) => dumpState(tx));
    expect(dump.artifact_packages).toEqual([
      [
        '00000000-0000-4000-8000-000000000001',
        'hello',
        'ci',
        'git:abc123',
        'ephemeral',
        'finalized',
        '{"build":7,"ratio":0.25,"tags":["a","é"]}',
        '2026-01-02T03:04:00.000Z',
        '2026-01-02T03:04:05.555Z',
        fixedLog()[5]!.payload_digest.toString('hex'),
        6,
        2,
        14,
        0,
        null,
        null,
        null,
        'alice',
        null,
      ],
      [
        '00000000-0000-4000-8000-000000000002',
        'world',
        'ml',
        'run-9',
        'permanent',
        'created',
        '{}',
        '2026-01-02T03:04:02.222Z',
        null,
        null,
        5,
        1,
        7,
        0,
        null,
        null,
        null,
        'bob',
        null,
      ],
    ]);
    expect(dump.retention_state).toEqual([
      [
        '00000000-0000-4000-8000-000000000001',
        'ephemeral',
        7,
        '2026-01-09T03:04:05.555Z',
        '2026-01-02T03:04:00.000Z',
      ],
      ['00000000-0000-4000-8000-000000000002', 'permanent', null, null, '2026-01-02T03:04:02.222Z'],
    ]);
    expect(dump.artifact_files?.map((row) => row[2])).toEqual(['bin/hello', 'README.md', 'model.bin']);
    // folded_path: the simple case folding of relative_path.
    expect(dump.artifact_files?.map((row) => row[3])).toEqual(['bin/hello', 'readme.md', 'model.bin']);
    expect(dump.storage_locations).toHaveLength(3);
  });

  it('keeps the golden chain digest of the log head', async () => {
    const verification = await core.eventLog.verifyChain();
    expect(verification).toMatchObject({ ok: true, eventsChecked: 6, headSequence: 6 });
    const [head] = await core.eventLog.fetchSince(5, 1);
    expect(head?.chain_digest.toString('hex')).toBe(golden.headChainDigest);
  });
});

/** docs/formats.md, "State digest", implemented with cbor2 and blake3-wasm instead of the production code. */
function independentStateDigest(dump: StateDump): string {
  const hash = createIndependentBlake3();
  for (const table of VIEW_TABLES) {
    hash.update(
      independentEncode([table.name, table.columns.map((column) => column.name)], cdeEncodeOptions),
    );
    for (const row of dump[table.name] ?? []) {
      // cbor2 writes a Node Buffer as its JSON form; the tree's hashes are byte strings.
      const plain = row.map((value) => (Buffer.isBuffer(value) ? new Uint8Array(value) : value));
      hash.update(independentEncode(plain, cdeEncodeOptions));
    }
  }
  return hash.digest('hex');
}

describe.each(dialectsUnderTest())('replay of a contradictory log on $dialect', (dialectUnderTest) => {
  it('fails and leaves the views as they were', async () => {
    const testDatabase = await dialectUnderTest.create();
    const core = await startCore(testDatabase);
    try {
      const log = fixedLog();
      const finalized = log[5]!;
      // The same package finalized twice: a log no registry would write, and the view handler refuses it.
      const second = { ...finalized, sequence: 7, created_at: '2026-01-02T03:04:06.000Z' };
      const bad = [...log, { ...second, chain_digest: chainDigest(finalized.chain_digest, second) }];
      await importLog(core, bad);
      const before = await core.database.read((tx) => stateDigest(tx));
      await expect(core.projector.replayAll()).rejects.toThrow(ProjectionError);
      expect((await core.database.read((tx) => stateDigest(tx))).equals(before)).toBe(true);
      expect(await core.eventLog.verifyChain()).toMatchObject({
        ok: true,
        eventsChecked: 7,
        headSequence: 7,
      });
    } finally {
      await core.close();
      await testDatabase.dispose();
    }
  });
});

describe.each(dialectsUnderTest())('importing a log on $dialect', (dialectUnderTest) => {
  let testDatabase: TestDatabase;
  let core: CoreHarness;

  beforeEach(async () => {
    testDatabase = await dialectUnderTest.create();
    core = await startCore(testDatabase);
  });

  afterEach(async () => {
    await core.close();
    await testDatabase.dispose();
  });

  it.each([
    [
      'a broken chain',
      (log: Event[]) => [log[0]!, { ...log[1]!, chain_digest: Buffer.alloc(32) }],
      /chain_digest/,
    ],
    [
      'an altered payload',
      (log: Event[]) => [{ ...log[0]!, payload: Buffer.from('a0', 'hex') }],
      /payload_digest/,
    ],
    ['a repeated sequence', (log: Event[]) => [log[0]!, log[0]!], /does not follow/],
    ['a gap that skips an event', (log: Event[]) => [log[0]!, log[2]!], /chain_digest/],
  ])('refuses %s and keeps nothing of it', async (_name, mangle, message) => {
    await expect(importLog(core, mangle(fixedLog()))).rejects.toThrow(message);
    expect(await core.eventLog.headSequence()).toBe(0);
  });

  it('continues appending after an imported log, on the same chain', async () => {
    await importLog(core, fixedLog());
    const next = await core.database.write((tx) => core.projector.appendAndApply(tx, packageCreated()));
    expect(next.sequence).toBe(7);
    expect(await core.eventLog.verifyChain()).toMatchObject({ ok: true, eventsChecked: 7, headSequence: 7 });
  });
});
