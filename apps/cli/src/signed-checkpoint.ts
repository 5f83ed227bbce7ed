import {
  openNote,
  parseCheckpoint,
  type ParsedCheckpoint,
  type ParsedVerifierKey,
} from '@artifactstore/codec';
import { CliError } from './cli.errors.js';

/**
 * A checkpoint note, once a signature by `verifier` verifies and its origin is the key's name (C2SP
 * tlog-checkpoint names a log's key after its origin, so one log's checkpoint cannot pass for another's). `code`
 * says what a failure is: a bad receipt, or a bad checkpoint (the one remembered, or one observed). Exit 4 either way.
 */
export function openCheckpoint(
  note: string,
  verifier: ParsedVerifierKey,
  code: 'receipt_invalid' | 'checkpoint_invalid',
): ParsedCheckpoint {
  const key = `${verifier.name}+${verifier.keyId.toString('hex')}`;
  let text: string;
  try {
    text = openNote(note, verifier).text;
  } catch (error) {
    throw new CliError(code, `the checkpoint is not signed by the log key ${key}: ${messageOf(error)}`);
  }
  let checkpoint: ParsedCheckpoint;
  try {
    checkpoint = parseCheckpoint(text);
  } catch (error) {
    throw new CliError(code, `the signed checkpoint is malformed: ${messageOf(error)}`);
  }
  if (checkpoint.origin !== verifier.name) {
    throw new CliError(
      code,
      `the checkpoint is of the log ${JSON.stringify(checkpoint.origin)}, not of ${JSON.stringify(verifier.name)} (the key's)`,
    );
  }
  return checkpoint;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
