import { DatabaseError } from '@artifactstore/db';
import { ProjectionError } from '@artifactstore/views';
import { AdminJobRecord, jobErrorOf, replayResultOf, verifyResultOf } from './admin-job.js';
import { PackageNotFoundError } from './registry.errors.js';

const ID = '01890a5d-ac96-774b-bcce-b302099a8057';
const job = { id: ID, kind: 'replay' as const };

describe('AdminJobRecord', () => {
  it('reports progress by sequence up to the head, raising the total when the job passes it', () => {
    const record = new AdminJobRecord(ID, 'verify', '2026-01-02T03:04:05.000Z');
    record.setTotal(2500);
    record.advance(1000);
    expect(record.snapshot().progress).toEqual({ events_done: 1000, events_total: 2500 });
    record.advance(900); // never backwards
    record.advance(2600); // an event appended meanwhile
    expect(record.snapshot().progress).toEqual({ events_done: 2600, events_total: 2600 });
  });

  it('is running with neither result nor error, then succeeded with its result, or failed with its error', () => {
    const record = new AdminJobRecord(ID, 'replay', '2026-01-02T03:04:05.000Z');
    expect(record.running).toBe(true);
    expect(record.snapshot()).toEqual({
      id: ID,
      kind: 'replay',
      state: 'running',
      progress: { events_done: 0, events_total: 0 },
      started_at: '2026-01-02T03:04:05.000Z',
      finished_at: null,
      result: null,
      error: null,
    });
    const result = replayResultOf(
      { head_sequence: 7, state_digest_before: 'aa', state_digest_after: 'aa' },
      12.4,
    );
    record.succeed({ kind: 'replay', result }, '2026-01-02T03:04:06.000Z');
    expect(record.running).toBe(false);
    expect(record.snapshot()).toMatchObject({
      state: 'succeeded',
      finished_at: '2026-01-02T03:04:06.000Z',
      result: {
        highest_sequence: 7,
        state_digest_before: 'aa',
        state_digest_after: 'aa',
        identical: true,
        duration_ms: 12,
      },
      error: null,
    });

    const failed = new AdminJobRecord(ID, 'verify', '2026-01-02T03:04:05.000Z');
    failed.fail({ code: 'internal_error', detail: 'no' }, '2026-01-02T03:04:07.000Z');
    expect(failed.snapshot()).toMatchObject({
      state: 'failed',
      result: null,
      error: { code: 'internal_error', detail: 'no' },
    });
  });

  it('refuses a result of the other kind', () => {
    const record = new AdminJobRecord(ID, 'replay', '2026-01-02T03:04:05.000Z');
    const result = verifyResultOf({ ok: false, eventsChecked: 3, sequence: 4, problem: 'chain_digest' });
    expect(() => {
      record.succeed({ kind: 'verify', result }, '2026-01-02T03:04:06.000Z');
    }).toThrow(TypeError);
  });
});

describe('result fields', () => {
  it('says a replay whose digests differ is not identical', () => {
    expect(
      replayResultOf({ head_sequence: 0, state_digest_before: 'aa', state_digest_after: 'bb' }, 0).identical,
    ).toBe(false);
  });

  it('gives a sound chain its head and digest, a broken one its first bad event', () => {
    expect(
      verifyResultOf({
        ok: true,
        eventsChecked: 5,
        headSequence: 5,
        headChainDigest: Buffer.from('0a0b', 'hex'),
      }),
    ).toEqual({
      ok: true,
      events_checked: 5,
      first_bad_sequence: null,
      head_sequence: 5,
      head_chain_digest: '0a0b',
    });
    expect(verifyResultOf({ ok: false, eventsChecked: 3, sequence: 4, problem: 'payload_digest' })).toEqual({
      ok: false,
      events_checked: 3,
      first_bad_sequence: 4,
      head_sequence: null,
      head_chain_digest: null,
    });
  });
});

describe('jobErrorOf', () => {
  it('keeps the code and message of errors with a stable meaning', () => {
    expect(jobErrorOf(new PackageNotFoundError(ID), job, false)).toEqual({
      code: 'package_not_found',
      detail: `package ${ID} does not exist`,
    });
    expect(jobErrorOf(new ProjectionError('v1.package.finalized #7: already finalized'), job, false)).toEqual(
      {
        code: 'projection_error',
        detail: 'v1.package.finalized #7: already finalized',
      },
    );
  });

  it('asks for another try when the database could not be used or the server stopped', () => {
    const unavailable = new DatabaseError('connection reset at 10.0.0.5', 'unavailable', 'ECONNRESET');
    expect(jobErrorOf(unavailable, job, false)).toEqual({
      code: 'service_unavailable',
      detail: 'the database could not be reached or used during the replay; start it again',
    });
    expect(jobErrorOf(new DatabaseError('disk full', 'storage_full', '53100'), job, false).code).toBe(
      'storage_error',
    );
    expect(jobErrorOf(new Error('anything'), job, true)).toEqual({
      code: 'service_unavailable',
      detail: 'the server stopped during the replay; start it again',
    });
  });

  it('says nothing internal about anything else, naming the job for the server log', () => {
    for (const error of [
      new Error('/var/lib/artifactstore/secret'),
      new DatabaseError('syntax error', 'other', '42601'),
      'thrown text',
    ]) {
      expect(jobErrorOf(error, job, false)).toEqual({
        code: 'internal_error',
        detail: `the replay failed; the server log has the details under job ${ID}`,
      });
    }
  });
});
