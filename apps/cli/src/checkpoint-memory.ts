import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { verifyConsistency, type ParsedCheckpoint, type ParsedVerifierKey } from '@artifactstore/codec';
import { writeFileAtomically } from './atomic-write.js';
import { CliError } from './cli.errors.js';
import { note } from './output.js';
import { openCheckpoint } from './signed-checkpoint.js';

/** Asks the log for an RFC 9162 consistency proof from tree size `from` to `to`: its hashes, in the RFC's order. */
export type ConsistencySource = (from: number, to: number) => Promise<readonly Uint8Array[]>;

/** How a checkpoint relates to the newest one remembered of its log. */
export type CheckpointRelation =
  /** Nothing was remembered of the log: it is now. */
  | 'first'
  /** The size remembered, with the same root. */
  | 'same'
  /** Larger, proven to extend the one remembered, which it replaces. */
  | 'newer'
  /** Smaller, proven to be a prefix of the one remembered, which stays. */
  | 'older'
  /** Another size, but no server to ask for a proof: neither proven nor remembered (a warning says so). */
  | 'unchecked';

export interface Observation {
  readonly relation: CheckpointRelation;
  readonly size: number;
  /** The size of the newest checkpoint remembered of the log, after this one. */
  readonly newestSize: number;
}

/** A checkpoint memory file: the signed note is the record; the other fields are for a person reading it. */
interface MemoryFile {
  readonly origin: string;
  readonly size: number;
  readonly root: string;
  readonly checkpoint: string;
  readonly seen_at: string;
}

/** A remembered checkpoint, its note verified again on every read. */
interface Remembered extends ParsedCheckpoint {
  readonly note: string;
}

/**
 * The newest checkpoint this user has seen of each log, so that a log cannot show one history today and another
 * tomorrow (a split view, or a rewrite) without the client noticing: every checkpoint seen after the first must be
 * proven consistent with the one remembered (RFC 9162 §2.1.4), else `log_inconsistent` (exit 4). One JSON file
 * per origin under `$XDG_STATE_HOME/artifactstore/checkpoints/` (default `~/.local/state/…`), replaced atomically.
 *
 * Two processes observing the same log at once may each replace the file; the one that renames last wins, which
 * may keep the smaller of two consistent checkpoints. That loses nothing that matters: both were proven.
 */
export class CheckpointMemory {
  constructor(
    readonly directory: string,
    private readonly warn: (text: string) => void = note,
  ) {}

  /** The memory of this user: `$XDG_STATE_HOME/artifactstore/checkpoints`, or `~/.local/state/artifactstore/…`. */
  static ofUser(env: NodeJS.ProcessEnv): CheckpointMemory {
    const state = env.XDG_STATE_HOME;
    // The XDG spec: a relative path in the variable is invalid and is to be ignored.
    const base = state !== undefined && isAbsolute(state) ? state : join(homedir(), '.local', 'state');
    return new CheckpointMemory(join(base, 'artifactstore', 'checkpoints'));
  }

  /**
   * The file of a log's checkpoint: any origin becomes a safe name (letters, digits, `.`, `_`, `-`), and a hash of
   * the origin keeps two origins that read alike apart.
   */
  fileOf(origin: string): string {
    const readable = origin.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 64);
    const hash = createHash('sha256').update(origin, 'utf8').digest('hex').slice(0, 16);
    return join(this.directory, `${readable}-${hash}.json`);
  }

  /** The newest checkpoint remembered of the key's log, its signature checked again. */
  async newest(verifier: ParsedVerifierKey): Promise<Remembered | undefined> {
    const file = this.fileOf(verifier.name);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const damaged = (why: string): CliError =>
      new CliError(
        'checkpoint_invalid',
        `${file}, the checkpoint remembered of ${verifier.name}: ${why} (remove the file to trust the log afresh)`,
      );
    let noteText: unknown;
    try {
      noteText = (JSON.parse(text) as Partial<MemoryFile> | null)?.checkpoint;
    } catch (error) {
      throw damaged(`not JSON (${error instanceof Error ? error.message : String(error)})`);
    }
    if (typeof noteText !== 'string') throw damaged('it holds no checkpoint');
    try {
      return { ...openCheckpoint(noteText, verifier, 'checkpoint_invalid'), note: noteText };
    } catch (error) {
      throw error instanceof CliError ? damaged(error.message) : error;
    }
  }

  /**
   * Checks a signed checkpoint against the newest remembered of its log, and remembers it when it is newer:
   *
   * - nothing remembered: it is remembered;
   * - the same size: the roots must be equal;
   * - larger: `consistency` must prove that it extends the one remembered, which it then replaces;
   * - smaller: `consistency` must prove that the one remembered extends it; the remembered one stays.
   *
   * Without `consistency` (no server: an offline `verify`), a checkpoint of another size cannot be proven either
   * way: it is not remembered, and a warning on stderr says the log's consistency was not checked. A proof that
   * fails, or a log that has no tree of the size remembered any more, is `log_inconsistent` (exit 4).
   */
  async observe(
    noteText: string,
    verifier: ParsedVerifierKey,
    consistency?: ConsistencySource,
  ): Promise<Observation> {
    const seen = openCheckpoint(noteText, verifier, 'checkpoint_invalid');
    const known = await this.newest(verifier);
    if (known === undefined) {
      await this.remember(seen, noteText);
      return { relation: 'first', size: seen.size, newestSize: seen.size };
    }
    const extendsKnown = seen.size > known.size;
    const failure = extendsKnown
      ? `the log at size ${seen.size} does not extend the size ${known.size} it showed before`
      : `the log at size ${known.size}, as it showed before, does not extend its size ${seen.size} now shown`;
    if (seen.size === known.size) {
      if (!seen.root.equals(known.root)) {
        throw new CliError(
          'log_inconsistent',
          `the log at size ${seen.size} does not extend the size ${known.size} it showed before: the same size has another root`,
        );
      }
      return { relation: 'same', size: seen.size, newestSize: known.size };
    }
    if (consistency === undefined) {
      // Not `warning: …`: a line `artifactstore: <word>: …` is how a failure reads.
      this.warn(
        `the log ${verifier.name} shows size ${seen.size} here and showed size ${known.size} before; with no server ` +
          `to prove that one extends the other, their consistency was not checked (size ${known.size} stays remembered)`,
      );
      return { relation: 'unchecked', size: seen.size, newestSize: known.size };
    }
    const [older, newer] = extendsKnown ? [known, seen] : [seen, known];
    let proof: readonly Uint8Array[];
    try {
      proof = await consistency(older.size, newer.size);
    } catch (error) {
      // The log answers that it has no tree of that size: it has shrunk below what it showed before.
      if (error instanceof CliError && error.code === 'log_range_not_available') {
        throw new CliError('log_inconsistent', `${failure}: ${error.message}`);
      }
      throw error;
    }
    if (!verifyConsistency(older.size, newer.size, older.root, newer.root, proof)) {
      throw new CliError('log_inconsistent', failure);
    }
    if (!extendsKnown) return { relation: 'older', size: seen.size, newestSize: known.size };
    await this.remember(seen, noteText);
    return { relation: 'newer', size: seen.size, newestSize: seen.size };
  }

  private async remember(checkpoint: ParsedCheckpoint, noteText: string): Promise<void> {
    await mkdir(this.directory, { recursive: true, mode: 0o700 });
    const file: MemoryFile = {
      origin: checkpoint.origin,
      size: checkpoint.size,
      root: checkpoint.root.toString('base64'),
      checkpoint: noteText,
      seen_at: new Date().toISOString(),
    };
    await writeFileAtomically(this.fileOf(checkpoint.origin), `${JSON.stringify(file, null, 2)}\n`);
  }
}
