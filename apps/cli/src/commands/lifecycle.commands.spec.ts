import type { ArtifactClient, ScrubStatus } from '../artifact-client.js';
import { CliError } from '../cli.errors.js';
import { scrub } from './lifecycle.commands.js';
import { capturingStdout } from '../../../../test/support/stdout-capture.js';

const IDLE: ScrubStatus = {
  state: 'idle',
  started_at: null,
  finished_at: null,
  checked: { blobs: 0, bytes: 0 },
  missing: 0,
  damaged: 0,
  orphaned: 0,
  findings: [],
  error: null,
};
const STARTED = '2025-01-01T00:00:00.000Z';
const FINISHED = '2025-01-01T00:00:02.000Z';

/** A client whose scrub answers `statuses` in turn: the first to the start, the others to each poll. */
function scrubbingClient(statuses: ScrubStatus[]): { client: ArtifactClient; polls: () => number } {
  let polls = 0;
  const next = (): Promise<ScrubStatus> => {
    const status = statuses.shift();
    if (status === undefined) throw new Error('polled after the pass was over');
    return Promise.resolve(status);
  };
  const client = {
    startScrub: next,
    scrubStatus: () => {
      polls += 1;
      return next();
    },
  } as Partial<ArtifactClient> as ArtifactClient;
  return { client, polls: () => polls };
}

describe('scrub --wait', () => {
  const running = (blobs: number): ScrubStatus => ({
    ...IDLE,
    state: 'running',
    started_at: STARTED,
    checked: { blobs, bytes: blobs * 1024 },
  });

  it('polls until the pass is over, with progress on the sink, then prints the report (exit 0 when clean)', async () => {
    const { client, polls } = scrubbingClient([
      running(0),
      running(3),
      { ...running(5), state: 'done', finished_at: FINISHED, orphaned: 1 },
    ]);
    const progress: string[] = [];
    const { stdout, error } = await capturingStdout(() =>
      scrub(client, { wait: true }, { write: (text: string) => progress.push(text) }),
    );
    expect(error).toBeUndefined();
    expect(polls()).toBe(2);
    expect(progress).toEqual(['artifactstore: scrubbed 0 blobs (0 B) so far: 0 missing, 0 damaged\n']);
    expect(stdout).toBe(
      `scrub done at ${FINISHED}: 5 blobs (5.0 KiB) checked; 0 missing, 0 damaged, 1 orphaned\n… and 1 more\n`,
    );
  });

  it('exits 4 (scrub_found_damage) when the pass found missing or damaged blobs, printing the findings', async () => {
    const blake3 = 'ab'.repeat(32);
    const { client } = scrubbingClient([
      running(0),
      {
        ...running(2),
        state: 'done',
        finished_at: FINISHED,
        missing: 1,
        findings: [{ blake3, kind: 'missing', size: 10 }],
      },
    ]);
    const { stdout, error } = await capturingStdout(() =>
      scrub(client, { wait: true, json: true }, { write: fail }),
    );
    expect(error).toBeInstanceOf(CliError);
    expect(error).toMatchObject({ code: 'scrub_found_damage', exitStatus: 4 });
    expect(JSON.parse(stdout)).toMatchObject({ state: 'done', missing: 1 });
  });

  it('exits 5 (scrub_failed) naming the reason when the pass failed', async () => {
    const { client } = scrubbingClient([
      running(0),
      { ...running(1), state: 'failed', finished_at: FINISHED, error: 'storage unreachable' },
    ]);
    const { stdout, error } = await capturingStdout(() =>
      scrub(client, { wait: true }, { write: () => true }),
    );
    expect(error).toMatchObject({ code: 'scrub_failed', exitStatus: 5 });
    expect((error as Error).message).toContain('storage unreachable');
    expect(stdout).toBe(`scrub failed at ${FINISHED} after 1 blob (1.0 KiB) checked: storage unreachable\n`);
  });

  it('without --wait prints the state the start answered and does not poll', async () => {
    const { client, polls } = scrubbingClient([running(0)]);
    const { stdout, error } = await capturingStdout(() => scrub(client, { wait: false }, { write: fail }));
    expect(error).toBeUndefined();
    expect(polls()).toBe(0);
    expect(stdout).toBe(`scrub running since ${STARTED}: 0 blobs (0 B) checked so far\n`);
  });
});

function fail(text: string): never {
  throw new Error(`unexpected progress: ${text}`);
}
