import { MIGRATIONS } from '@artifactstore/db';
import { randomUUID } from 'node:crypto';
import { blake3, parseTimestamp } from '@artifactstore/codec';
import { InvalidEventError } from '@artifactstore/events';
import { dumpState, ProjectionError, stateDigest } from '@artifactstore/views';
import { startCore, type CoreHarness } from '../support/app-harness.js';
import { fileIngested, packageCreated, packageFinalized, unknownEvent } from '../support/sample-events.js';
import { dialectsUnderTest, type TestDatabase } from '../support/test-databases.js';

describe.each(dialectsUnderTest())('event log and views on $dialect', (dialectUnderTest) => {
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

  const appendPackage = (packageId = randomUUID()) =>
    core.database.write((tx) => core.projector.appendAndApply(tx, packageCreated(packageId)));
  const viewState = () =>
    core.database.read(async (tx) => ({ digest: await stateDigest(tx), dump: await dumpState(tx) }));

  it('assigns monotonic sequences and created_at, and payload_digest = BLAKE3(payload)', async () => {
    const events = [];
    for (let i = 0; i < 5; i++) events.push(await appendPackage());
    expect(events.map((event) => event.sequence)).toEqual([1, 2, 3, 4, 5]);
    for (let i = 1; i < events.length; i++) {
      expect(parseTimestamp(events[i]!.created_at)).toBeGreaterThanOrEqual(
        parseTimestamp(events[i - 1]!.created_at),
      );
    }
    const stored = await core.eventLog.fetchSince(0, 100);
    expect(stored).toEqual(events);
    for (const event of stored) expect(event.payload_digest.equals(blake3(event.payload))).toBe(true);
  });

  it('fetchSince(2) returns the ordered tail', async () => {
    for (let i = 0; i < 5; i++) await appendPackage();
    const tail = await core.eventLog.fetchSince(2, 100);
    expect(tail.map((event) => event.sequence)).toEqual([3, 4, 5]);
    expect((await core.eventLog.fetchSince(2, 2)).map((event) => event.sequence)).toEqual([3, 4]);
    expect(await core.eventLog.fetchSince(5, 100)).toEqual([]);
  });

  it('tail yields committed events, then new ones, and ends cleanly when the consumer breaks', async () => {
    for (let i = 0; i < 3; i++) await appendPackage();
    const seen: number[] = [];
    const consumer = (async () => {
      for await (const event of core.eventLog.tail(1, { pollIntervalMs: 5_000 })) {
        seen.push(event.sequence);
        if (event.sequence === 5) break;
      }
    })();
    await appendPackage(); // sequence 4, woken by the commit rather than the 5 s poll
    await appendPackage();
    await consumer;
    expect(seen).toEqual([2, 3, 4, 5]);
    expect(core.eventLog.openTails).toBe(0);
  });

  it('tail ends when its signal aborts, with no tail left open', async () => {
    const controller = new AbortController();
    const seen: number[] = [];
    const consumer = (async () => {
      for await (const event of core.eventLog.tail(0, {
        pollIntervalMs: 60_000,
        signal: controller.signal,
      })) {
        seen.push(event.sequence);
      }
    })();
    await appendPackage();
    await waitFor(() => seen.length === 1);
    controller.abort();
    await consumer;
    expect(seen).toEqual([1]);
    expect(core.eventLog.openTails).toBe(0);
  });

  it('the direct path and replay produce byte-identical state, created through finalized', async () => {
    const packages = [randomUUID(), randomUUID(), randomUUID()];
    for (const packageId of packages) {
      await core.database.write(async (tx) => {
        await core.projector.appendAndApply(
          tx,
          packageCreated(packageId, packageId === packages[2] ? null : 7),
        );
        await core.projector.appendAndApply(tx, fileIngested(packageId, 'bin/tool'));
        await core.projector.appendAndApply(tx, fileIngested(packageId, 'README.md'));
      });
    }
    await core.database.write((tx) => core.projector.appendAndApply(tx, packageFinalized(packages[0]!)));
    await core.database.write((tx) => core.projector.appendAndApply(tx, packageFinalized(packages[2]!)));

    const before = await viewState();
    const finalized = before.dump.artifact_packages!.filter((row) => row[5] === 'finalized');
    expect(finalized).toHaveLength(2);
    const retention = new Map(before.dump.retention_state!.map((row) => [row[0], row]));
    const first = before.dump.artifact_packages!.find((row) => row[0] === packages[0])!;
    expect(retention.get(packages[0])?.[3]).toBe(
      new Date(parseTimestamp(first[8] as string) + 7 * 86_400_000).toISOString(),
    );
    expect(retention.get(packages[2])?.[3]).toBeNull();
    expect(before.dump.artifact_files).toHaveLength(6);

    const head = await core.projector.replayAll();
    expect(head).toBe(11);
    const after = await viewState();
    expect(after.dump).toEqual(before.dump);
    expect(after.digest.equals(before.digest)).toBe(true);
  });

  it('tolerates unknown event types on the direct path and in replay', async () => {
    await appendPackage();
    const before = await viewState();
    const unknown = await core.database.write((tx) => core.projector.appendAndApply(tx, unknownEvent()));
    expect(unknown.sequence).toBe(2);
    // Every view but the log tree stays as it was; the tree takes every event as a leaf.
    const after = await viewState();
    const { log_leaves: leaves, ...rest } = after.dump;
    const { log_leaves: leavesBefore, ...restBefore } = before.dump;
    expect(rest).toEqual(restBefore);
    expect(leaves?.map((row) => row[1])).toEqual([...(leavesBefore ?? []).map((row) => row[1]), 2]);
    await core.projector.replayAll();
    expect((await viewState()).digest.equals(after.digest)).toBe(true);
  });

  it('rolls the event back when its handler throws', async () => {
    await appendPackage();
    const before = await viewState();
    await expect(
      core.database.write((tx) =>
        core.projector.appendAndApply(tx, fileIngested(randomUUID(), 'orphan.txt')),
      ),
    ).rejects.toThrow(ProjectionError);
    expect(await core.eventLog.headSequence()).toBe(1);
    expect((await viewState()).digest.equals(before.digest)).toBe(true);
    // The log continues without a hole on SQLite; PostgreSQL may skip the rolled-back sequence.
    const next = await appendPackage();
    expect(next.sequence).toBeGreaterThan(1);
    expect((await core.eventLog.verifyChain()).ok).toBe(true);
  });

  it('finalizing a package twice is refused by the view and leaves no event', async () => {
    const packageId = randomUUID();
    await appendPackage(packageId);
    await core.database.write((tx) => core.projector.appendAndApply(tx, packageFinalized(packageId)));
    const head = await core.eventLog.headSequence();
    await expect(
      core.database.write((tx) => core.projector.appendAndApply(tx, packageFinalized(packageId))),
    ).rejects.toThrow(ProjectionError);
    expect(await core.eventLog.headSequence()).toBe(head);
  });

  it('refuses a file for a finalized package, on the direct path, with no event left behind', async () => {
    const packageId = randomUUID();
    await appendPackage(packageId);
    await core.database.write((tx) => core.projector.appendAndApply(tx, packageFinalized(packageId)));
    const head = await core.eventLog.headSequence();
    await expect(
      core.database.write((tx) => core.projector.appendAndApply(tx, fileIngested(packageId, 'late.bin'))),
    ).rejects.toThrow(/already finalized/);
    expect(await core.eventLog.headSequence()).toBe(head);
  });

  it.each([
    [
      'an uppercase package id',
      (id: string) => packageCreated(id.toUpperCase()),
      /lowercase hyphenated UUID/,
    ],
    ['a package id that is no UUID', () => packageCreated('p-1'), /lowercase hyphenated UUID/],
  ])('refuses %s', async (_name, draft, message) => {
    await expect(
      core.database.write((tx) => core.projector.appendAndApply(tx, draft(randomUUID()))),
    ).rejects.toThrow(message);
    expect(await core.eventLog.headSequence()).toBe(0);
  });

  it('refuses an event filed under another subject than its package', async () => {
    const draft = { ...packageCreated(), subject_id: randomUUID() };
    await expect(core.database.write((tx) => core.projector.appendAndApply(tx, draft))).rejects.toThrow(
      ProjectionError,
    );
  });

  it('refuses a draft whose payload_digest does not match its payload', async () => {
    const draft = { ...packageCreated(), payload_digest: Buffer.alloc(32) };
    await expect(core.database.write((tx) => core.eventLog.append(tx, draft))).rejects.toThrow(
      InvalidEventError,
    );
    expect(await core.eventLog.headSequence()).toBe(0);
  });

  it('ends open tails cleanly when the application shuts down, and refuses work afterwards', async () => {
    const seen: number[] = [];
    const consumer = (async () => {
      for await (const event of core.eventLog.tail(0, { pollIntervalMs: 60_000 })) seen.push(event.sequence);
    })();
    await appendPackage();
    await waitFor(() => seen.length === 1);
    await core.close();
    await consumer;
    expect(core.eventLog.openTails).toBe(0);
    await expect(core.eventLog.fetchSince(0, 1)).rejects.toThrow(/closed/);
    core = await startCore(testDatabase); // for afterEach
  });

  it('concurrent units of work where some roll back: the rest commit, none leak into another', async () => {
    const outcomes = await Promise.allSettled(
      Array.from({ length: 24 }, (_, i) =>
        core.database.write(async (tx) => {
          const event = await core.projector.appendAndApply(tx, packageCreated());
          await new Promise((resolve) => setTimeout(resolve, i % 3)); // interleave the units
          if (i % 4 === 0) throw new Error(`unit ${i} fails`);
          return event.subject_id;
        }),
      ),
    );
    const committed = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
    expect(committed).toHaveLength(18);
    const packages = await core.database.read((tx) =>
      tx.query<{ id: string }>('SELECT id FROM artifact_packages'),
    );
    expect(packages.map((row) => row.id).sort()).toEqual([...committed].sort());
    const events = await core.eventLog.fetchSince(0, 1000);
    expect(events.map((event) => event.subject_id).sort()).toEqual([...committed].sort());
    expect((await core.eventLog.verifyChain()).ok).toBe(true);
  });

  it('a read never sees the rows of a write that has not committed', async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let appended: () => void = () => undefined;
    const appendedSignal = new Promise<void>((resolve) => (appended = resolve));
    const writer = core.database.write(async (tx) => {
      await core.projector.appendAndApply(tx, packageCreated());
      appended();
      await held;
    });
    await appendedSignal;
    const during = await core.database.read((tx) => tx.query('SELECT id FROM artifact_packages'));
    expect(during).toHaveLength(0);
    expect(await core.eventLog.fetchSince(0, 10)).toHaveLength(0);
    release();
    await writer;
    expect(await core.eventLog.fetchSince(0, 10)).toHaveLength(1);
  });

  it('eight concurrent writers × 200 events: a running tailer sees every sequence exactly once, in order', async () => {
    const total = 8 * 200;
    const controller = new AbortController();
    const seen: number[] = [];
    const tailer = (async () => {
      for await (const event of core.eventLog.tail(0, { pollIntervalMs: 50, signal: controller.signal })) {
        seen.push(event.sequence);
        if (seen.length === total) break;
      }
    })();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = 0; i < 200; i++) await appendPackage();
      }),
    );
    await withTimeout(tailer, 30_000, 'tailer stalled');
    controller.abort();
    const committed = (await core.eventLog.fetchSince(0, total + 10)).map((event) => event.sequence);
    expect(committed).toHaveLength(total);
    expect(seen).toEqual(committed);
    expect(new Set(seen).size).toBe(total);
    expect((await core.eventLog.verifyChain()).ok).toBe(true);
  });

  it('a replay while writers keep appending ends with the views of a fresh replay of the final log', async () => {
    for (let i = 0; i < 50; i++) await appendPackage();
    const writers = Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let i = 0; i < 25; i++) {
          const packageId = randomUUID();
          await appendPackage(packageId);
          await core.database.write((tx) =>
            core.projector.appendAndApply(tx, fileIngested(packageId, 'a.bin')),
          );
        }
      }),
    );
    const replays = (async () => {
      for (let i = 0; i < 3; i++) await core.projector.replayAll({ batchSize: 7 });
    })();
    await Promise.all([writers, replays]);
    const live = await viewState();
    expect(live.dump.artifact_packages).toHaveLength(150);
    expect(live.dump.artifact_files).toHaveLength(100);
    await core.projector.replayAll();
    const fresh = await viewState();
    expect(fresh.dump).toEqual(live.dump);
    expect(fresh.digest.equals(live.digest)).toBe(true);
  });

  it('verify and replay give the event loop a turn between batches, so the server keeps answering', async () => {
    for (let i = 0; i < 30; i++) await appendPackage();
    for (const job of [
      () => core.eventLog.verifyChain({ batchSize: 5 }),
      () => core.eventLog.replay(core.viewWriter, { batchSize: 5 }),
    ]) {
      let turns = 0;
      let running = true;
      const turn = (): void => {
        if (!running) return;
        turns++;
        setImmediate(turn);
      };
      setImmediate(turn);
      await job();
      running = false;
      // 30 events in batches of 5: at least a turn after each full batch.
      expect(turns).toBeGreaterThanOrEqual(5);
    }
  });

  it('verify and replay report progress after each batch; a throw from the report ends a replay, rolled back', async () => {
    for (let i = 0; i < 12; i++) await appendPackage();
    const verified: number[] = [];
    await core.eventLog.verifyChain({ batchSize: 5, onProgress: (sequence) => verified.push(sequence) });
    expect(verified).toEqual([5, 10, 12]);
    const replayed: number[] = [];
    await core.projector.replayAll({ batchSize: 5, onProgress: (sequence) => replayed.push(sequence) });
    expect(replayed).toEqual([5, 10, 12]);

    const before = await viewState();
    const cancelled = new Error('cancelled');
    await expect(
      core.projector.replayAll({
        batchSize: 5,
        onProgress: (sequence) => {
          if (sequence === 10) throw cancelled;
        },
      }),
    ).rejects.toBe(cancelled);
    expect((await viewState()).digest.equals(before.digest)).toBe(true);
    await expect(
      core.eventLog.verifyChain({
        batchSize: 5,
        onProgress: () => {
          throw cancelled;
        },
      }),
    ).rejects.toBe(cancelled);
  });

  it('verifyChain names the first altered payload or chain row', async () => {
    for (let i = 0; i < 6; i++) await appendPackage();
    expect(await core.eventLog.verifyChain()).toMatchObject({ ok: true, eventsChecked: 6, headSequence: 6 });
    const original = (await core.eventLog.fetchSince(3, 1))[0]!;

    await tamper(core, testDatabase.dialect, 'UPDATE events SET payload = ? WHERE sequence = 4', [
      Buffer.from('a0', 'hex'),
    ]);
    expect(await core.eventLog.verifyChain()).toMatchObject({
      ok: false,
      sequence: 4,
      problem: 'payload_digest',
    });

    await tamper(
      core,
      testDatabase.dialect,
      'UPDATE events SET payload = ?, payload_digest = ? WHERE sequence = 4',
      [Buffer.from('a0', 'hex'), blake3(Buffer.from('a0', 'hex'))],
    );
    expect(await core.eventLog.verifyChain()).toMatchObject({
      ok: false,
      sequence: 4,
      problem: 'chain_digest',
    });

    await tamper(
      core,
      testDatabase.dialect,
      'UPDATE events SET payload = ?, payload_digest = ? WHERE sequence = 4',
      [original.payload, original.payload_digest],
    );
    expect((await core.eventLog.verifyChain()).ok).toBe(true);
    await tamper(core, testDatabase.dialect, 'UPDATE events SET chain_digest = ? WHERE sequence = 2', [
      Buffer.alloc(32, 1),
    ]);
    expect(await core.eventLog.verifyChain()).toMatchObject({
      ok: false,
      sequence: 2,
      problem: 'chain_digest',
    });
  });

  it('refuses to update or delete events (append-only)', async () => {
    await appendPackage();
    if (testDatabase.dialect === 'postgres') {
      await expect(core.database.write((tx) => tx.run('TRUNCATE events'))).rejects.toThrow(/append-only/);
    }
    await expect(core.database.write((tx) => tx.run('DELETE FROM events'))).rejects.toThrow(/append-only/);
    await expect(core.database.write((tx) => tx.run("UPDATE events SET actor = 'mallory'"))).rejects.toThrow(
      /append-only/,
    );
    expect(await core.eventLog.headSequence()).toBe(1);
  });

  it('migrate:fresh drops everything and migrates again', async () => {
    await appendPackage();
    const applied = await core.database.migrateFresh();
    expect(applied).toEqual(MIGRATIONS.map((migration) => migration.name));
    expect(await core.eventLog.headSequence()).toBe(0);
    const classes = await core.database.read((tx) =>
      tx.query<{ name: string }>('SELECT name, ttl_days FROM retention_classes ORDER BY name'),
    );
    expect(classes.map((row) => row.name)).toEqual(['ephemeral', 'long_term', 'permanent', 'standard']);
    expect((await appendPackage()).sequence).toBe(1);
    expect(await core.database.migrate()).toEqual([]);
  });
});

/** Alters the log behind the app's back, as an attacker with database access would: triggers off, update, on. */
async function tamper(core: CoreHarness, dialect: string, sql: string, params: unknown[]): Promise<void> {
  await core.database.write(async (tx) => {
    if (dialect === 'postgres') {
      await tx.run('ALTER TABLE events DISABLE TRIGGER events_append_only');
      await tx.run(sql, params);
      await tx.run('ALTER TABLE events ENABLE TRIGGER events_append_only');
    } else {
      await tx.run('DROP TRIGGER events_no_update');
      await tx.run(sql, params);
      await tx.run(
        "CREATE TRIGGER events_no_update BEFORE UPDATE ON events BEGIN SELECT RAISE(ABORT, 'events are append-only'); END",
      );
    }
  });
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>(
        (_, reject) =>
          (timer = setTimeout(() => {
            reject(new Error(message));
          }, ms)),
      ),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe.each(dialectsUnderTest())('tails in another process on $dialect', (dialectUnderTest) => {
  it('learn of a commit without waiting for their poll (PostgreSQL NOTIFY) or at their poll (SQLite)', async () => {
    const testDatabase = await dialectUnderTest.create();
    const writer = await startCore(testDatabase);
    const reader = await startCore(testDatabase); // its own EventLog: no in-process wake-ups from the writer
    const controller = new AbortController();
    try {
      // On PostgreSQL the poll is a minute away, so only the notification can deliver within the test's time.
      const pollIntervalMs = dialectUnderTest.dialect === 'postgres' ? 60_000 : 50;
      const received = (async () => {
        for await (const event of reader.eventLog.tail(0, { pollIntervalMs, signal: controller.signal })) {
          return event.sequence;
        }
        return undefined;
      })();
      await new Promise((resolve) => setTimeout(resolve, 300)); // the tailer is now waiting
      await writer.database.write((tx) => writer.projector.appendAndApply(tx, packageCreated()));
      expect(await withTimeout(received, 20_000, 'the tail never woke')).toBe(1);
      expect(reader.eventLog.openTails).toBe(0);
    } finally {
      controller.abort();
      await reader.close();
      await writer.close();
      await testDatabase.dispose();
    }
  });
});
