/**
 * The RFC 9162 (and RFC 6962) Merkle tree over SHA-256, as c2sp.org/tlog-tiles logs use it. Hashing is here; reading
 * stored hashes is not: the plan functions say *which* perfect subtrees a root or a proof is made of, so that a
 * caller can fetch exactly those hashes (from tiles or a table) and fold them, without this lib knowing the storage.
 *
 * Sizes and indexes are plain numbers. The arithmetic below divides instead of shifting, because JavaScript's bit
 * operators truncate to 32 bits; every value stays a safe integer for trees of up to 2^52 leaves.
 */
import { hash } from 'node:crypto';
import { DIGEST_LENGTH } from './digests.js';

/** The largest tree size (and one past the largest leaf index) accepted. */
const MAX_TREE_SIZE = 2 ** 52;

const LEAF_PREFIX = Buffer.of(0x00);
const NODE_PREFIX = Buffer.of(0x01);

/** MTH({}) of RFC 9162 §2.1.1, the SHA-256 of nothing. Shared: do not write into it. */
export const EMPTY_TREE_ROOT: Buffer = hash('sha256', Buffer.alloc(0), 'buffer');

/*
 * One-shot `crypto.hash` over a concatenation, not a `createHash` object per hash: a proof computes hundreds of
 * hashes, and each hash object is a native handle freed only by the garbage collector, whose scavenges then made a
 * receipt's p99 (docs/benchmarks.md, "Transparency log"); one-shot hashing is also about twice as fast.
 */

/** The hash of a log entry, SHA-256(0x00 ‖ entry); the prefix keeps a leaf from passing for an interior node. */
export function leafHash(entry: Uint8Array): Buffer {
  return hash('sha256', Buffer.concat([LEAF_PREFIX, entry]), 'buffer');
}

/** The hash of an interior node, SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return hash('sha256', Buffer.concat([NODE_PREFIX, left, right]), 'buffer');
}

/**
 * The perfect subtree of height `level` covering leaves [index·2^level, (index+1)·2^level). Level 0 is a leaf. The
 * pair is the natural key of a stored hash; a tile at tile level L stores the hashes of level-8L subtrees.
 */
export interface Subtree {
  readonly level: number;
  readonly index: number;
}

/**
 * The leaf range [start, end) cut into maximal perfect subtrees, left to right, by descending powers of two; the MTH
 * of the range is {@link foldSubtrees} of their hashes. Every range the RFC's recursive split produces qualifies;
 * in general `start` must be a multiple of the largest power of two ≤ end − start (else a piece would straddle two
 * subtrees of the tree) and that is checked: RangeError otherwise. An empty range has no subtrees.
 */
export function subtreesOfRange(start: number, end: number): Subtree[] {
  checkTreeSize(start, 'start');
  checkTreeSize(end, 'end');
  if (start > end) throw new RangeError(`range [${start}, ${end}) ends before it starts`);
  const subtrees: Subtree[] = [];
  if (start === end) return subtrees;
  let level = floorLog2(end - start);
  if (start % 2 ** level !== 0) {
    throw new RangeError(
      `[${start}, ${end}) is not a range of the tree: ${start} is not a multiple of ${2 ** level}`,
    );
  }
  for (let from = start; from < end; level -= 1) {
    const width = 2 ** level;
    if (end - from >= width) {
      subtrees.push({ level, index: from / width });
      from += width;
    }
  }
  return subtrees;
}

/**
 * The MTH of a range from the hashes of its {@link subtreesOfRange} pieces, in the same order: a right fold, since the
 * RFC splits off the largest left subtree first. At least one hash (the empty tree is {@link EMPTY_TREE_ROOT}).
 */
export function foldSubtrees(hashes: readonly Uint8Array[]): Buffer {
  const last = hashes.at(-1);
  if (last === undefined) throw new RangeError('cannot fold an empty list of subtree hashes');
  let hash: Buffer = Buffer.from(last);
  for (const left of hashes.slice(0, -1).reverse()) hash = nodeHash(left, hash);
  return hash;
}

/**
 * The MTH of a tree held in memory as its leaf hashes (a tile, a small tree, a test). Iterative, pairing level by
 * level; an unpaired last node rises unchanged, which is exactly the RFC's unbalanced right edge.
 */
export function rootOfLeaves(leafHashes: readonly Uint8Array[]): Buffer {
  let level: readonly Uint8Array[] = leafHashes;
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const [left, right] = level.slice(i, i + 2);
      if (left !== undefined) next.push(right === undefined ? left : nodeHash(left, right));
    }
    level = next;
  }
  const [root] = level;
  return Buffer.from(root ?? EMPTY_TREE_ROOT);
}

/** The subtrees whose fold is the root of a tree of `size` leaves; [] for the empty tree. */
export function rootPlan(size: number): Subtree[] {
  return subtreesOfRange(0, size);
}

/**
 * RFC 9162 §2.1.3.1 PATH(index, D[size]) as a plan: one entry per proof element, nearest the leaf first, each the
 * subtrees whose fold is that element. RangeError unless 0 ≤ index < size.
 */
export function inclusionProofPlan(index: number, size: number): Subtree[][] {
  checkTreeSize(size, 'size');
  checkTreeSize(index, 'index');
  if (index >= size) throw new RangeError(`leaf ${index} is not in a tree of size ${size}`);
  // Walk the RFC's recursion from the root down, keeping the sibling of each split; the proof lists them bottom-up.
  const elements: Subtree[][] = [];
  let lo = 0;
  let hi = size;
  while (hi - lo > 1) {
    const split = lo + largestPowerOfTwoBelow(hi - lo);
    if (index < split) {
      elements.push(subtreesOfRange(split, hi));
      hi = split;
    } else {
      elements.push(subtreesOfRange(lo, split));
      lo = split;
    }
  }
  return elements.reverse();
}

/**
 * RFC 9162 §2.1.4.1 PROOF(from, D[to]) (SUBPROOF with b = true) as a plan, in the same shape as
 * {@link inclusionProofPlan}. [] when from = to; RangeError unless 0 < from ≤ to.
 */
export function consistencyProofPlan(from: number, to: number): Subtree[][] {
  checkTreeSize(from, 'from');
  checkTreeSize(to, 'to');
  if (from === 0 || from > to) throw new RangeError(`no consistency proof from size ${from} to size ${to}`);
  // [lo, hi) is the current D[n] of the recursion, `from` the absolute end of the old tree inside it (lo < from ≤ hi).
  const elements: Subtree[][] = [];
  let lo = 0;
  let hi = to;
  let oldRootKnown = true;
  while (hi !== from) {
    const split = lo + largestPowerOfTwoBelow(hi - lo);
    if (from <= split) {
      elements.push(subtreesOfRange(split, hi));
      hi = split;
    } else {
      elements.push(subtreesOfRange(lo, split));
      lo = split;
      oldRootKnown = false;
    }
  }
  // SUBPROOF(m, D[m], false) = {MTH(D[m])}: the verifier lacks this subtree's hash, since it is not the old root.
  if (!oldRootKnown) elements.push(subtreesOfRange(lo, hi));
  return elements.reverse();
}

/**
 * RFC 9162 §2.1.3.2, verifying that `leafHash` is leaf `index` of the tree of `size` leaves with root `root`. Never
 * throws: a bad index or size, a proof of the wrong length, or a hash that is not 32 bytes is simply false.
 */
export function verifyInclusion(
  index: number,
  size: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!isTreeSize(size) || !isTreeSize(index) || index >= size) return false;
  if (!isHash(leafHash) || !isHash(root) || !proof.every(isHash)) return false;
  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(leafHash);
  for (const p of proof) {
    if (sn === 0) return false;
    if (isOdd(fn) || fn === sn) {
      r = nodeHash(p, r);
      // Climb past the levels where this node is the lone right edge and has no sibling.
      while (!isOdd(fn) && fn !== 0) [fn, sn] = [half(fn), half(sn)];
    } else {
      r = nodeHash(r, p);
    }
    [fn, sn] = [half(fn), half(sn)];
  }
  return sn === 0 && r.equals(root);
}

/**
 * RFC 9162 §2.1.4.2, verifying that the tree of `to` leaves with root `toRoot` extends the tree of `from` leaves with
 * root `fromRoot`. from = to holds only for an empty proof and equal roots; from = 0 is not verifiable (false). Never
 * throws, like {@link verifyInclusion}.
 */
export function verifyConsistency(
  from: number,
  to: number,
  fromRoot: Uint8Array,
  toRoot: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  if (!isTreeSize(from) || !isTreeSize(to) || from === 0 || from > to) return false;
  if (!isHash(fromRoot) || !isHash(toRoot) || !proof.every(isHash)) return false;
  if (from === to) return proof.length === 0 && Buffer.from(fromRoot).equals(toRoot);
  if (proof.length === 0) return false;
  // A perfect old tree is a node of the new one, so the proof leaves out its hash: the verifier already has it.
  const [seed, ...path] = isPowerOfTwo(from) ? [fromRoot, ...proof] : proof;
  if (seed === undefined) return false;
  let fn = from - 1;
  let sn = to - 1;
  while (isOdd(fn)) [fn, sn] = [half(fn), half(sn)];
  let fr: Buffer = Buffer.from(seed);
  let sr: Buffer = fr;
  for (const c of path) {
    if (sn === 0) return false;
    if (isOdd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (!isOdd(fn) && fn !== 0) [fn, sn] = [half(fn), half(sn)];
    } else {
      sr = nodeHash(sr, c);
    }
    [fn, sn] = [half(fn), half(sn)];
  }
  return sn === 0 && fr.equals(fromRoot) && sr.equals(toRoot);
}

function isTreeSize(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= MAX_TREE_SIZE;
}

function checkTreeSize(n: number, what: string): void {
  if (!isTreeSize(n)) throw new RangeError(`${what} must be an integer from 0 to 2^52, got ${n}`);
}

function isHash(bytes: Uint8Array): boolean {
  return bytes.length === DIGEST_LENGTH;
}

function isOdd(n: number): boolean {
  return n % 2 === 1;
}

function half(n: number): number {
  return Math.floor(n / 2);
}

/** ⌊log2 n⌋ for n ≥ 1; Math.log2 may round up just below a power of two, hence the correction. */
function floorLog2(n: number): number {
  const level = Math.floor(Math.log2(n));
  if (2 ** level > n) return level - 1;
  return 2 ** (level + 1) <= n ? level + 1 : level;
}

/** The RFC's split point k: the largest power of two strictly below n (n ≥ 2). */
function largestPowerOfTwoBelow(n: number): number {
  return 2 ** floorLog2(n - 1);
}

function isPowerOfTwo(n: number): boolean {
  return n >= 1 && 2 ** floorLog2(n) === n;
}
