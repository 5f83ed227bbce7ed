import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { SignedLog } from '../../../test/support/signed-log.js';
import { CheckpointMemory, type ConsistencySource } from './checkpoint-memory.js';
import { CliError } from './cli.errors.js';

/** A log of `size` random entries. */
function logOf(size: number, log = new SignedLog()): SignedLog {
  while (log.size < size) log.append(randomBytes(24));
  return log;
}

/** A consistency source that answers from `log`, and records what it was asked. */
function proofsFrom(log: SignedLog): ConsistencySource & { asked: [number, number][] } {
  const asked: [number, number][] = [];
  const source = (from: number, to: number): Promise<Buffer[]> => {
    asked.push([from, to]);
    return Promise.resolve(log.consistencyProof(from, to));
  };
  return Object.assign(source, { asked });
}

async function failureOf(work: Promise<unknown>): Promise<CliError> {
  const error = await work.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(CliError);
  return error as CliError;
}

describe('CheckpointMemory', () => {
  let stateHome: string;
  let memory: CheckpointMemory;
  let warnings: string[];

  beforeEach(async () => {
    stateHome = await mkdtemp(join(tmpdir(), 'artifactstore-checkpoints-'));
    warnings = [];
    memory = new CheckpointMemory(CheckpointMemory.ofUser({ XDG_STATE_HOME: stateHome }).directory, (text) =>
      warnings.push(text),
    );
  });

  afterEach(async () => {
    await rm(stateHome, { recursive: true, force: true });
  });

  /** The note remembered of `log`'s origin. */
  const remembered = async (log: SignedLog): Promise<string> =>
    (JSON.parse(await readFile(memory.fileOf(log.origin), 'utf8')) as { checkpoint: string }).checkpoint;

  it('lives in $XDG_STATE_HOME/artifactstore/checkpoints, or ~/.local/state when the variable is unset or relative', () => {
    expect(memory.directory).toBe(join(stateHome, 'artifactstore', 'checkpoints'));
    const fallback = join(homedir(), '.local', 'state', 'artifactstore', 'checkpoints');
    expect(CheckpointMemory.ofUser({}).directory).toBe(fallback);
    expect(CheckpointMemory.ofUser({ XDG_STATE_HOME: 'relative/state' }).directory).toBe(fallback);
  });

  it('gives every origin a safe file of its own', () => {
    const names = ['example.test/log', 'example.test_log', '../../etc/passwd', 'x'.repeat(256), 'é/日本'].map(
      (origin) => memory.fileOf(origin),
    );
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) {
      expect(basename(name)).toMatch(/^[A-Za-z0-9._-]{1,64}-[0-9a-f]{16}\.json$/);
      expect(join(memory.directory, basename(name))).toBe(name);
    }
  });

  it('remembers the first checkpoint it sees of a log', async () => {
    const log = logOf(5);
    expect(await memory.observe(log.checkpoint(), log.verifier)).toEqual({
      relation: 'first',
      size: 5,
      newestSize: 5,
    });
    expect(await remembered(log)).toBe(log.checkpoint());
    const file = JSON.parse(await readFile(memory.fileOf(log.origin), 'utf8')) as Record<string, unknown>;
    expect(file).toMatchObject({ origin: log.origin, size: 5, root: log.root().toString('base64') });
    expect(
      (await readdir(memory.directory)).filter((name) => name.endsWith('.artifactstore-partial')),
    ).toEqual([]);
  });

  it('accepts the same size with the same root, and asks for no proof', async () => {
    const log = logOf(5);
    const source = proofsFrom(log);
    await memory.observe(log.checkpoint(), log.verifier);
    expect(await memory.observe(log.checkpoint(), log.verifier, source)).toEqual({
      relation: 'same',
      size: 5,
      newestSize: 5,
    });
    expect(source.asked).toEqual([]);
  });

  it('refuses the same size with another root: log_inconsistent, exit 4, naming both sizes', async () => {
    const log = logOf(5);
    await memory.observe(log.checkpoint(), log.verifier);
    const rewritten = logOf(5, new SignedLog(log.origin, log.privateKey));
    const failure = await failureOf(
      memory.observe(rewritten.checkpoint(), log.verifier, proofsFrom(rewritten)),
    );
    expect({ code: failure.code, exit: failure.exitStatus }).toEqual({ code: 'log_inconsistent', exit: 4 });
    expect(failure.message).toMatch(/^the log at size 5 does not extend the size 5 it showed before/);
    expect(await remembered(log)).toBe(log.checkpoint(5));
  });

  it('replaces the checkpoint with a newer one proven to extend it', async () => {
    const log = logOf(5);
    await memory.observe(log.checkpoint(), log.verifier);
    logOf(13, log);
    const source = proofsFrom(log);
    expect(await memory.observe(log.checkpoint(), log.verifier, source)).toEqual({
      relation: 'newer',
      size: 13,
      newestSize: 13,
    });
    expect(source.asked).toEqual([[5, 13]]);
    expect(await remembered(log)).toBe(log.checkpoint(13));
  });

  it('refuses a newer checkpoint of a history that forked, and keeps the one it had', async () => {
    const log = logOf(5);
    await memory.observe(log.checkpoint(), log.verifier);
    const fork = new SignedLog(log.origin, log.privateKey);
    fork.leaves.push(...log.leaves.slice(0, 4));
    logOf(9, fork);
    const failure = await failureOf(memory.observe(fork.checkpoint(), log.verifier, proofsFrom(fork)));
    expect(failure.code).toBe('log_inconsistent');
    expect(failure.message).toBe('the log at size 9 does not extend the size 5 it showed before');
    expect(await remembered(log)).toBe(log.checkpoint(5));
  });

  it('refuses a newer checkpoint when the proof offered is not a proof', async () => {
    const log = logOf(5);
    await memory.observe(log.checkpoint(), log.verifier);
    logOf(8, log);
    const garbled: ConsistencySource = (from, to) =>
      Promise.resolve(
        log.consistencyProof(from, to).map((hash, index) => (index === 0 ? randomBytes(32) : hash)),
      );
    expect((await failureOf(memory.observe(log.checkpoint(), log.verifier, garbled))).code).toBe(
      'log_inconsistent',
    );
    const none: ConsistencySource = () => Promise.resolve([]);
    expect((await failureOf(memory.observe(log.checkpoint(), log.verifier, none))).code).toBe(
      'log_inconsistent',
    );
  });

  it('calls a log that no longer has the size it showed inconsistent', async () => {
    const log = logOf(9);
    await memory.observe(log.checkpoint(), log.verifier);
    const shrunk: ConsistencySource = () =>
      Promise.reject(new CliError('log_range_not_available', 'the log has 6 entries, not 9'));
    const failure = await failureOf(memory.observe(log.checkpoint(6), log.verifier, shrunk));
    expect(failure.code).toBe('log_inconsistent');
    expect(failure.message).toMatch(/size 9.*size 6.*the log has 6 entries, not 9$/);
  });

  it('accepts an older checkpoint proven to be a prefix, and keeps the newer one', async () => {
    const log = logOf(11);
    await memory.observe(log.checkpoint(), log.verifier);
    const source = proofsFrom(log);
    expect(await memory.observe(log.checkpoint(6), log.verifier, source)).toEqual({
      relation: 'older',
      size: 6,
      newestSize: 11,
    });
    expect(source.asked).toEqual([[6, 11]]);
    expect(await remembered(log)).toBe(log.checkpoint(11));
  });

  it('refuses an older checkpoint that is not a prefix of the one remembered', async () => {
    const log = logOf(11);
    await memory.observe(log.checkpoint(), log.verifier);
    const other = logOf(6, new SignedLog(log.origin, log.privateKey));
    const failure = await failureOf(memory.observe(other.checkpoint(), log.verifier, proofsFrom(log)));
    expect(failure.code).toBe('log_inconsistent');
    expect(failure.message).toMatch(/size 11.*size 6/);
  });

  it('offline, warns that another size was not checked, and keeps the checkpoint it had', async () => {
    const log = logOf(5);
    await memory.observe(log.checkpoint(), log.verifier);
    logOf(8, log);
    expect(await memory.observe(log.checkpoint(), log.verifier)).toEqual({
      relation: 'unchecked',
      size: 8,
      newestSize: 5,
    });
    expect(warnings).toEqual([expect.stringMatching(/size 8.*size 5.*not checked/) as string]);
    expect(await remembered(log)).toBe(log.checkpoint(5));
    expect(await memory.observe(log.checkpoint(3), log.verifier)).toMatchObject({ relation: 'unchecked' });
    expect(warnings).toHaveLength(2);
  });

  it('refuses a checkpoint not signed by the key (checkpoint_invalid), and remembers nothing', async () => {
    const log = logOf(5);
    const impostor = logOf(5, new SignedLog(log.origin));
    const failure = await failureOf(memory.observe(impostor.checkpoint(), log.verifier));
    expect({ code: failure.code, exit: failure.exitStatus }).toEqual({ code: 'checkpoint_invalid', exit: 4 });
    await expect(readdir(memory.directory)).rejects.toThrow();
  });

  it('refuses a memory file that is damaged or signed by another key, naming the file', async () => {
    const log = logOf(5);
    await memory.observe(log.checkpoint(), log.verifier);
    const file = memory.fileOf(log.origin);
    await writeFile(file, '{"checkpoint": ');
    let failure = await failureOf(memory.observe(log.checkpoint(), log.verifier));
    expect(failure.code).toBe('checkpoint_invalid');
    expect(failure.message).toContain(file);
    await writeFile(file, JSON.stringify({ checkpoint: logOf(5, new SignedLog(log.origin)).checkpoint() }));
    failure = await failureOf(memory.observe(log.checkpoint(), log.verifier));
    expect(failure.message).toMatch(/not signed by the log key.*remove the file/);
  });
});
