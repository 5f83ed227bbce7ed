import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import {
  consistencyProofPlan,
  foldSubtrees,
  formatCheckpoint,
  formatVerifierKey,
  inclusionProofPlan,
  leafHash,
  parseVerifierKey,
  rawEd25519PublicKey,
  rootOfLeaves,
  signNote,
  type ParsedVerifierKey,
  type Subtree,
} from '@artifactstore/codec';

/**
 * A transparency log held in memory, for tests of its clients: entries appended, checkpoints signed with an Ed25519
 * key, and RFC 9162 proofs computed from the leaf hashes with the codec's plans (the server reads the same plans
 * from its tiles). Not a reference implementation: the codec's own tests check the tree.
 */
export class SignedLog {
  readonly leaves: Buffer[] = [];

  constructor(
    readonly origin = 'example.test/log',
    readonly privateKey: KeyObject = generateKeyPairSync('ed25519').privateKey,
  ) {}

  /** `<origin>+<key id>+<base64 key>`, as `GET /v1/log/key` answers. */
  get verifierKey(): string {
    return formatVerifierKey(this.origin, rawEd25519PublicKey(this.privateKey));
  }

  get verifier(): ParsedVerifierKey {
    return parseVerifierKey(this.verifierKey);
  }

  get size(): number {
    return this.leaves.length;
  }

  /** Appends a log entry; its leaf index. */
  append(entry: Uint8Array): number {
    this.leaves.push(leafHash(entry));
    return this.leaves.length - 1;
  }

  root(size = this.size): Buffer {
    return rootOfLeaves(this.leaves.slice(0, size));
  }

  /** The signed note of the tree of `size` leaves (default: all), or of any root given. */
  checkpoint(size = this.size, root: Uint8Array = this.root(size)): string {
    return signNote(formatCheckpoint({ origin: this.origin, size, root }), this.origin, this.privateKey);
  }

  inclusionProof(index: number, size = this.size): Buffer[] {
    return inclusionProofPlan(index, size).map((element) => this.rangeHash(element));
  }

  consistencyProof(from: number, to = this.size): Buffer[] {
    return consistencyProofPlan(from, to).map((element) => this.rangeHash(element));
  }

  private rangeHash(subtrees: readonly Subtree[]): Buffer {
    return foldSubtrees(
      subtrees.map(({ level, index }) => {
        const width = 2 ** level;
        return rootOfLeaves(this.leaves.slice(index * width, (index + 1) * width));
      }),
    );
  }
}
