import type { ParsedVerifierKey } from '@artifactstore/codec';
import type { ArtifactClient, PackageReceipt } from '../artifact-client.js';
import { CheckpointMemory, type CheckpointRelation, type ConsistencySource } from '../checkpoint-memory.js';
import { checkReceipt, parseLogKey, type CheckedReceipt, type ReceiptExpectation } from './receipt-check.js';

/** What `--log-key` brings to `pull` and `verify`: the key to check receipts with, and where checkpoints are kept. */
export interface LogCheck {
  readonly verifier: ParsedVerifierKey;
  readonly memory: CheckpointMemory;
}

/** What the log showed of a package, as `pull` and `verify` report it (`log` in their JSON). */
export interface LogProof {
  readonly origin: string;
  readonly leaf_index: number;
  /** The size of the checkpoint the receipt was proven against. */
  readonly tree_size: number;
  /** How that checkpoint relates to the newest seen of the log before (see CheckpointMemory). */
  readonly checkpoint: CheckpointRelation;
  /** The newest size of the log remembered now. */
  readonly newest_size: number;
}

/** The log check of `--log-key <text>`, with this user's checkpoint memory. */
export function logCheckOf(keyText: string, env: NodeJS.ProcessEnv): LogCheck {
  return { verifier: parseLogKey(keyText), memory: CheckpointMemory.ofUser(env) };
}

/**
 * Checks a receipt (checkReceipt), then its checkpoint against the newest remembered of the log. With `client`
 * the log is asked for consistency proofs; without it (offline) a checkpoint of another size is only warned about.
 */
export async function proveInLog(
  receipt: PackageReceipt,
  expected: ReceiptExpectation,
  log: LogCheck,
  client?: ArtifactClient,
): Promise<{ readonly checked: CheckedReceipt; readonly proof: LogProof }> {
  const checked = checkReceipt(receipt, log.verifier, expected);
  const observed = await log.memory.observe(
    checked.checkpointNote,
    log.verifier,
    client === undefined ? undefined : consistencyFrom(client),
  );
  return {
    checked,
    proof: {
      origin: checked.checkpoint.origin,
      leaf_index: checked.leafIndex,
      tree_size: checked.checkpoint.size,
      checkpoint: observed.relation,
      newest_size: observed.newestSize,
    },
  };
}

/** `entry 41 of example.com/log (size 97)`, for the human lines of `pull` and `verify`. */
export function describeLogProof(proof: LogProof): string {
  return `entry ${proof.leaf_index} of ${proof.origin} (size ${proof.tree_size})`;
}

/**
 * The server's consistency proofs, decoded without fuss: whatever bytes a garbled answer decodes to, only a true
 * proof verifies, so a malformed one fails like any other wrong proof (`log_inconsistent`).
 */
function consistencyFrom(client: ArtifactClient): ConsistencySource {
  return async (from, to) => {
    const { proof } = await client.consistency(from, to);
    return Array.isArray(proof) ? proof.map((hash) => Buffer.from(String(hash), 'base64')) : [];
  };
}
