import { createHash, randomBytes } from 'node:crypto';
import {
  EMPTY_TREE_ROOT,
  consistencyProofPlan,
  foldSubtrees,
  inclusionProofPlan,
  leafHash,
  nodeHash,
  rootOfLeaves,
  rootPlan,
  subtreesOfRange,
  verifyConsistency,
  verifyInclusion,
  type Subtree,
} from './index.js';

const hex = (text: string): Buffer => Buffer.from(text, 'hex');

// The reference tree of google/certificate-transparency cpp/merkletree/merkle_tree_test.cc (kInputs, kSHA256Roots,
// kSHA256Paths, kSHA256Proofs), also in transparency-dev/merkle proof/verify_test.go. Leaf numbers there are 1-based.
const INPUTS = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
].map(hex);
const ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
].map(hex);
const INCLUSION_VECTORS: { index: number; size: number; proof: string[] }[] = [
  { index: 0, size: 1, proof: [] },
  {
    index: 0,
    size: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    index: 5,
    size: 8,
    proof: [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
  { index: 2, size: 3, proof: ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125'] },
  {
    index: 1,
    size: 5,
    proof: [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
];
const CONSISTENCY_VECTORS: { from: number; to: number; proof: string[] }[] = [
  { from: 1, to: 1, proof: [] },
  {
    from: 1,
    to: 8,
    proof: [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  },
  {
    from: 6,
    to: 8,
    proof: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
  {
    from: 2,
    to: 5,
    proof: [
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  },
  // transparency-dev/merkle proof/verify_test.go adds this one.
  {
    from: 6,
    to: 7,
    proof: [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  },
];

// A deliberately naive second implementation, written straight from RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1 over
// arrays of entries: recursion, slicing, no plans and no indexes.
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function referenceMth(entries: readonly Buffer[]): Buffer {
  if (entries.length === 0) return createHash('sha256').digest();
  if (entries.length === 1) return createHash('sha256').update(Buffer.of(0)).update(entries[0]!).digest();
  const k = splitPoint(entries.length);
  return createHash('sha256')
    .update(Buffer.of(1))
    .update(referenceMth(entries.slice(0, k)))
    .update(referenceMth(entries.slice(k)))
    .digest();
}

function referencePath(m: number, entries: readonly Buffer[]): Buffer[] {
  if (entries.length === 1) return [];
  const k = splitPoint(entries.length);
  return m < k
    ? [...referencePath(m, entries.slice(0, k)), referenceMth(entries.slice(k))]
    : [...referencePath(m - k, entries.slice(k)), referenceMth(entries.slice(0, k))];
}

function referenceSubproof(m: number, entries: readonly Buffer[], b: boolean): Buffer[] {
  const n = entries.length;
  if (m === n) return b ? [] : [referenceMth(entries)];
  const k = splitPoint(n);
  return m <= k
    ? [...referenceSubproof(m, entries.slice(0, k), b), referenceMth(entries.slice(k))]
    : [...referenceSubproof(m - k, entries.slice(k), false), referenceMth(entries.slice(0, k))];
}

function referenceProof(m: number, entries: readonly Buffer[]): Buffer[] {
  return referenceSubproof(m, entries, true);
}

/** A tree in memory whose subtree hashes come from rootOfLeaves, so that plans can be folded into hashes. */
class MemoryTree {
  readonly leafHashes: Buffer[];
  private readonly cache = new Map<string, Buffer>();

  constructor(readonly entries: readonly Buffer[]) {
    this.leafHashes = entries.map(leafHash);
  }

  hashOf({ level, index }: Subtree): Buffer {
    const key = `${level}/${index}`;
    let hash = this.cache.get(key);
    if (hash === undefined) {
      const width = 2 ** level;
      const leaves = this.leafHashes.slice(index * width, (index + 1) * width);
      if (leaves.length !== width) throw new Error(`subtree ${key} is outside the tree`);
      hash = rootOfLeaves(leaves);
      this.cache.set(key, hash);
    }
    return hash;
  }

  fold(plan: readonly (readonly Subtree[])[]): Buffer[] {
    return plan.map((element) => foldSubtrees(element.map((subtree) => this.hashOf(subtree))));
  }

  root(size: number): Buffer {
    return size === 0 ? EMPTY_TREE_ROOT : foldSubtrees(rootPlan(size).map((subtree) => this.hashOf(subtree)));
  }
}

const entriesOf = (count: number): Buffer[] =>
  Array.from({ length: count }, (_, i) => Buffer.from(`entry ${i}`));
const flipped = (hash: Uint8Array, bit = 0): Buffer => {
  const copy = Buffer.from(hash);
  copy[0] = (copy[0] ?? 0) ^ (1 << bit);
  return copy;
};
const hexOf = (hashes: readonly Uint8Array[]): string[] =>
  hashes.map((hash) => Buffer.from(hash).toString('hex'));
const plainSubtrees = (plan: readonly (readonly Subtree[])[]): [number, number][][] =>
  plan.map((element) => element.map(({ level, index }) => [level, index]));

/** Every mutation of a good inclusion proof that the verifier must refuse (after the Go and C++ verifier tests). */
function corruptInclusions(
  index: number,
  size: number,
  leaf: Buffer,
  proof: readonly Buffer[],
  root: Buffer,
): [string, Parameters<typeof verifyInclusion>][] {
  const cases: [string, Parameters<typeof verifyInclusion>][] = [
    ['index - 1', [index - 1, size, leaf, proof, root]],
    ['index + 1', [index + 1, size, leaf, proof, root]],
    ['index ^ 2', [index ^ 2, size, leaf, proof, root]],
    ['size * 2', [index, size * 2, leaf, proof, root]],
    ['size / 2', [index, Math.floor(size / 2), leaf, proof, root]],
    ['wrong leaf', [index, size, leafHash(Buffer.from('WrongLeaf')), proof, root]],
    ['flipped leaf', [index, size, flipped(leaf), proof, root]],
    ['empty root', [index, size, leaf, proof, EMPTY_TREE_ROOT]],
    ['flipped root', [index, size, leaf, proof, flipped(root)]],
    ['short root', [index, size, leaf, proof, root.subarray(1)]],
    ['trailing garbage', [index, size, leaf, [...proof, Buffer.alloc(0)], root]],
    ['trailing root', [index, size, leaf, [...proof, root], root]],
    ['preceding garbage', [index, size, leaf, [Buffer.alloc(0), ...proof], root]],
    ['preceding root', [index, size, leaf, [root, ...proof], root]],
  ];
  proof.forEach((_, i) => {
    const wrong = [...proof];
    wrong[i] = flipped(proof[i]!, 3);
    cases.push([`flipped proof[${i}]`, [index, size, leaf, wrong, root]]);
    const long = [...proof];
    long[i] = Buffer.concat([proof[i]!, Buffer.of(0)]);
    cases.push([`33-byte proof[${i}]`, [index, size, leaf, long, root]]);
  });
  if (proof.length > 0) cases.push(['truncated proof', [index, size, leaf, proof.slice(0, -1), root]]);
  if (proof.length > 1) {
    cases.push([
      'inserted element',
      [index, size, leaf, [proof[0]!, EMPTY_TREE_ROOT, ...proof.slice(1)], root],
    ]);
    cases.push(['swapped elements', [index, size, leaf, [proof[1]!, proof[0]!, ...proof.slice(2)], root]]);
  }
  return cases;
}

/** Every mutation of a good, non-empty consistency proof that the verifier must refuse. */
function corruptConsistencies(
  from: number,
  to: number,
  fromRoot: Buffer,
  toRoot: Buffer,
  proof: readonly Buffer[],
): [string, Parameters<typeof verifyConsistency>][] {
  const cases: [string, Parameters<typeof verifyConsistency>][] = [
    ['from - 1', [from - 1, to, fromRoot, toRoot, proof]],
    ['from + 1', [from + 1, to, fromRoot, toRoot, proof]],
    ['from ^ 2', [from ^ 2, to, fromRoot, toRoot, proof]],
    ['to * 2', [from, to * 2, fromRoot, toRoot, proof]],
    ['to / 2', [from, Math.floor(to / 2), fromRoot, toRoot, proof]],
    ['flipped old root', [from, to, flipped(fromRoot), toRoot, proof]],
    ['flipped new root', [from, to, fromRoot, flipped(toRoot), proof]],
    ['swapped roots', [from, to, toRoot, fromRoot, proof]],
    ['empty proof', [from, to, fromRoot, toRoot, []]],
    ['trailing garbage', [from, to, fromRoot, toRoot, [...proof, Buffer.alloc(0)]]],
    ['trailing old root', [from, to, fromRoot, toRoot, [...proof, fromRoot]]],
    ['trailing new root', [from, to, fromRoot, toRoot, [...proof, toRoot]]],
    ['preceding garbage', [from, to, fromRoot, toRoot, [Buffer.alloc(0), ...proof]]],
    ['preceding old root', [from, to, fromRoot, toRoot, [fromRoot, ...proof]]],
    ['preceding new root', [from, to, fromRoot, toRoot, [toRoot, ...proof]]],
    ['preceding proof[0]', [from, to, fromRoot, toRoot, [proof[0]!, ...proof]]],
    ['truncated proof', [from, to, fromRoot, toRoot, proof.slice(0, -1)]],
  ];
  proof.forEach((_, i) => {
    const wrong = [...proof];
    wrong[i] = flipped(proof[i]!, 4);
    cases.push([`flipped proof[${i}]`, [from, to, fromRoot, toRoot, wrong]]);
  });
  return cases;
}

function expectRejected(cases: [string, Parameters<typeof verifyInclusion>][]): void {
  const accepted = cases.filter(([, args]) => verifyInclusion(...args)).map(([name]) => name);
  expect(accepted).toEqual([]);
}

function expectConsistencyRejected(cases: [string, Parameters<typeof verifyConsistency>][]): void {
  const accepted = cases.filter(([, args]) => verifyConsistency(...args)).map(([name]) => name);
  expect(accepted).toEqual([]);
}

describe('merkle tree hashing', () => {
  it('hashes leaves and nodes with the RFC 6962 prefixes (transparency-dev/merkle rfc6962 vectors)', () => {
    expect(EMPTY_TREE_ROOT.toString('hex')).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    expect(leafHash(new Uint8Array(0)).toString('hex')).toBe(
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    );
    expect(leafHash(Buffer.from('L123456')).toString('hex')).toBe(
      '395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56',
    );
    expect(nodeHash(Buffer.from('N123'), Buffer.from('N456')).toString('hex')).toBe(
      'aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb',
    );
  });

  it('computes the reference roots for sizes 0 to 8, in memory and from plans', () => {
    const tree = new MemoryTree(INPUTS);
    expect(rootOfLeaves([]).equals(EMPTY_TREE_ROOT)).toBe(true);
    for (let size = 1; size <= 8; size += 1) {
      expect(rootOfLeaves(tree.leafHashes.slice(0, size)).toString('hex')).toBe(
        ROOTS[size - 1]!.toString('hex'),
      );
      expect(tree.root(size).toString('hex')).toBe(ROOTS[size - 1]!.toString('hex'));
      expect(referenceMth(INPUTS.slice(0, size)).toString('hex')).toBe(ROOTS[size - 1]!.toString('hex'));
    }
  });

  it('produces and verifies the reference inclusion proofs', () => {
    const tree = new MemoryTree(INPUTS);
    for (const { index, size, proof } of INCLUSION_VECTORS) {
      expect(hexOf(tree.fold(inclusionProofPlan(index, size)))).toEqual(proof);
      const leaf = leafHash(INPUTS[index]!);
      const hashes = proof.map(hex);
      expect(verifyInclusion(index, size, leaf, hashes, ROOTS[size - 1]!)).toBe(true);
      expectRejected(corruptInclusions(index, size, leaf, hashes, ROOTS[size - 1]!));
    }
  });

  it('produces and verifies the reference consistency proofs', () => {
    const tree = new MemoryTree(INPUTS);
    for (const { from, to, proof } of CONSISTENCY_VECTORS) {
      expect(hexOf(tree.fold(consistencyProofPlan(from, to)))).toEqual(proof);
      const hashes = proof.map(hex);
      expect(verifyConsistency(from, to, ROOTS[from - 1]!, ROOTS[to - 1]!, hashes)).toBe(true);
      if (from !== to)
        expectConsistencyRejected(corruptConsistencies(from, to, ROOTS[from - 1]!, ROOTS[to - 1]!, hashes));
    }
  });
});

describe('proof plans', () => {
  // Node lists of transparency-dev/merkle proof/proof_test.go (TestInclusion, TestConsistency), regrouped: where that
  // test rehashes a run of nodes into one element, the element here lists the same subtrees left to right.
  it.each([
    [
      7,
      0,
      [
        [[0, 1]],
        [[1, 1]],
        [
          [1, 2],
          [0, 6],
        ],
      ],
    ],
    [
      7,
      1,
      [
        [[0, 0]],
        [[1, 1]],
        [
          [1, 2],
          [0, 6],
        ],
      ],
    ],
    [
      7,
      2,
      [
        [[0, 3]],
        [[1, 0]],
        [
          [1, 2],
          [0, 6],
        ],
      ],
    ],
    [
      7,
      3,
      [
        [[0, 2]],
        [[1, 0]],
        [
          [1, 2],
          [0, 6],
        ],
      ],
    ],
    [7, 4, [[[0, 5]], [[0, 6]], [[2, 0]]]],
    [7, 5, [[[0, 4]], [[0, 6]], [[2, 0]]]],
    [7, 6, [[[1, 2]], [[2, 0]]]],
    [1, 0, []],
    [2, 0, [[[0, 1]]]],
    [2, 1, [[[0, 0]]]],
    [3, 1, [[[0, 0]], [[0, 2]]]],
    [4, 2, [[[0, 3]], [[1, 0]]]],
    [5, 3, [[[0, 2]], [[1, 0]], [[0, 4]]]],
    [6, 3, [[[0, 2]], [[1, 0]], [[1, 2]]]],
    [6, 4, [[[0, 5]], [[2, 0]]]],
    [
      15,
      10,
      [
        [[0, 11]],
        [[1, 4]],
        [
          [1, 6],
          [0, 14],
        ],
        [[3, 0]],
      ],
    ],
    [
      31,
      24,
      [
        [[0, 25]],
        [[1, 13]],
        [
          [1, 14],
          [0, 30],
        ],
        [[3, 2]],
        [[4, 0]],
      ],
    ],
    [
      95,
      81,
      [
        [[0, 80]],
        [[1, 41]],
        [[2, 21]],
        [
          [2, 22],
          [1, 46],
          [0, 94],
        ],
        [[4, 4]],
        [[6, 0]],
      ],
    ],
  ])('plans the inclusion proof in a tree of size %i for leaf %i', (size, index, want) => {
    expect(plainSubtrees(inclusionProofPlan(index, size))).toEqual(want);
  });

  it.each([
    [1, 2, [[[0, 1]]]],
    [1, 4, [[[0, 1]], [[1, 1]]]],
    [1, 6, [[[0, 1]], [[1, 1]], [[1, 2]]]],
    [2, 3, [[[0, 2]]]],
    [2, 8, [[[1, 1]], [[2, 1]]]],
    [
      3,
      7,
      [
        [[0, 2]],
        [[0, 3]],
        [[1, 0]],
        [
          [1, 2],
          [0, 6],
        ],
      ],
    ],
    [
      4,
      7,
      [
        [
          [1, 2],
          [0, 6],
        ],
      ],
    ],
    [5, 7, [[[0, 4]], [[0, 5]], [[0, 6]], [[2, 0]]]],
    [6, 7, [[[1, 2]], [[0, 6]], [[2, 0]]]],
    [7, 8, [[[0, 6]], [[0, 7]], [[1, 2]], [[2, 0]]]],
    [5, 5, []],
    [2, 4, [[[1, 1]]]],
    [3, 5, [[[0, 2]], [[0, 3]], [[1, 0]], [[0, 4]]]],
    [3, 6, [[[0, 2]], [[0, 3]], [[1, 0]], [[1, 2]]]],
    [4, 6, [[[1, 2]]]],
    [
      1,
      7,
      [
        [[0, 1]],
        [[1, 1]],
        [
          [1, 2],
          [0, 6],
        ],
      ],
    ],
    [
      10,
      15,
      [
        [[1, 4]],
        [[1, 5]],
        [
          [1, 6],
          [0, 14],
        ],
        [[3, 0]],
      ],
    ],
    [
      24,
      31,
      [
        [[3, 2]],
        [
          [2, 6],
          [1, 14],
          [0, 30],
        ],
        [[4, 0]],
      ],
    ],
    [
      81,
      95,
      [
        [[0, 80]],
        [[0, 81]],
        [[1, 41]],
        [[2, 21]],
        [
          [2, 22],
          [1, 46],
          [0, 94],
        ],
        [[4, 4]],
        [[6, 0]],
      ],
    ],
  ])('plans the consistency proof from %i to %i', (from, to, want) => {
    expect(plainSubtrees(consistencyProofPlan(from, to))).toEqual(want);
  });

  it('cuts ranges into maximal perfect subtrees and checks that they are ranges of the tree', () => {
    expect(subtreesOfRange(0, 0)).toEqual([]);
    expect(rootPlan(0)).toEqual([]);
    expect(plainSubtrees([rootPlan(13)])).toEqual([
      [
        [3, 0],
        [2, 2],
        [0, 12],
      ],
    ]);
    expect(plainSubtrees([subtreesOfRange(8, 15)])).toEqual([
      [
        [2, 2],
        [1, 6],
        [0, 14],
      ],
    ]);
    expect(plainSubtrees([subtreesOfRange(2, 5)])).toEqual([
      [
        [1, 1],
        [0, 4],
      ],
    ]);
    expect(plainSubtrees([rootPlan(2 ** 52)])).toEqual([[[52, 0]]]);
    expect(rootPlan(2 ** 52 - 1).map(({ level }) => level)).toEqual(
      Array.from({ length: 52 }, (_, i) => 51 - i),
    );
    for (const [start, end] of [
      [1, 3],
      [2, 6],
      [4, 3],
      [-1, 1],
      [0.5, 1],
      [0, 2 ** 52 + 1],
      [0, Number.NaN],
    ] as const) {
      expect(() => subtreesOfRange(start, end)).toThrow(RangeError);
    }
    expect(() => foldSubtrees([])).toThrow(RangeError);
  });

  it('refuses impossible proofs', () => {
    for (const [index, size] of [
      [0, 0],
      [1, 1],
      [7, 7],
      [-1, 3],
      [0, 2 ** 52 + 1],
      [1.5, 3],
    ] as const) {
      expect(() => inclusionProofPlan(index, size)).toThrow(RangeError);
    }
    for (const [from, to] of [
      [0, 0],
      [0, 5],
      [6, 5],
      [-1, 5],
      [1, Number.POSITIVE_INFINITY],
    ] as const) {
      expect(() => consistencyProofPlan(from, to)).toThrow(RangeError);
    }
  });
});

describe('plans agree with the naive RFC 9162 recursion', () => {
  const MAX = 70;
  const tree = new MemoryTree(
    Array.from({ length: MAX }, () => randomBytes(1 + Math.floor(Math.random() * 40))),
  );

  it('for every root of size 0 to 70', () => {
    for (let size = 0; size <= MAX; size += 1) {
      const want = referenceMth(tree.entries.slice(0, size));
      expect(tree.root(size).equals(want)).toBe(true);
      expect(rootOfLeaves(tree.leafHashes.slice(0, size)).equals(want)).toBe(true);
    }
  });

  it('for every inclusion proof in trees of size 1 to 70, which verify and resist mutation', () => {
    for (let size = 1; size <= MAX; size += 1) {
      const entries = tree.entries.slice(0, size);
      const root = referenceMth(entries);
      for (let index = 0; index < size; index += 1) {
        const proof = tree.fold(inclusionProofPlan(index, size));
        expect(hexOf(proof)).toEqual(hexOf(referencePath(index, entries)));
        const leaf = tree.leafHashes[index]!;
        expect(verifyInclusion(index, size, leaf, proof, root)).toBe(true);
        expectRejected(corruptInclusions(index, size, leaf, proof, root));
      }
    }
  });

  it('for every consistency proof between sizes 1 to 70, which verify and resist mutation', () => {
    const roots = Array.from({ length: MAX + 1 }, (_, size) => referenceMth(tree.entries.slice(0, size)));
    for (let to = 1; to <= MAX; to += 1) {
      const entries = tree.entries.slice(0, to);
      for (let from = 1; from <= to; from += 1) {
        const proof = tree.fold(consistencyProofPlan(from, to));
        expect(hexOf(proof)).toEqual(hexOf(referenceProof(from, entries)));
        expect(verifyConsistency(from, to, roots[from]!, roots[to]!, proof)).toBe(true);
        if (from < to)
          expectConsistencyRejected(corruptConsistencies(from, to, roots[from]!, roots[to]!, proof));
      }
    }
  });

  it('for random indexes and sizes in larger trees', () => {
    const big = new MemoryTree(entriesOf(3000));
    for (let round = 0; round < 12; round += 1) {
      const to = 71 + Math.floor(Math.random() * (big.entries.length - 71));
      const from = 1 + Math.floor(Math.random() * to);
      const index = Math.floor(Math.random() * to);
      const entries = big.entries.slice(0, to);
      const toRoot = referenceMth(entries);
      const fromRoot = referenceMth(entries.slice(0, from));
      expect(big.root(to).equals(toRoot)).toBe(true);

      const inclusion = big.fold(inclusionProofPlan(index, to));
      expect(hexOf(inclusion)).toEqual(hexOf(referencePath(index, entries)));
      expect(verifyInclusion(index, to, big.leafHashes[index]!, inclusion, toRoot)).toBe(true);
      expectRejected(corruptInclusions(index, to, big.leafHashes[index]!, inclusion, toRoot));

      const consistency = big.fold(consistencyProofPlan(from, to));
      expect(hexOf(consistency)).toEqual(hexOf(referenceProof(from, entries)));
      expect(verifyConsistency(from, to, fromRoot, toRoot, consistency)).toBe(true);
      if (from < to) expectConsistencyRejected(corruptConsistencies(from, to, fromRoot, toRoot, consistency));
    }
  });
});

describe('trees beyond 32-bit sizes', () => {
  // When every entry is the same, every perfect subtree of a level has the same hash, so hashes of a 2^52 tree cost
  // one hash per level. That exercises the size arithmetic (no 32-bit shifts) though not the ordering of hashes.
  const levelHashes = [leafHash(Buffer.from('same'))];
  for (let level = 1; level <= 52; level += 1)
    levelHashes.push(nodeHash(levelHashes[level - 1]!, levelHashes[level - 1]!));
  const fold = (plan: readonly (readonly Subtree[])[]): Buffer[] =>
    plan.map((element) => foldSubtrees(element.map(({ level }) => levelHashes[level]!)));
  const rootOf = (size: number): Buffer => fold([rootPlan(size)])[0]!;

  it.each([
    [2 ** 40 + 12_345, 2 ** 40 + 12_344],
    [2 ** 52, 2 ** 52 - 1],
    [2 ** 52 - 1, 2 ** 51 + 3],
    [9_876_543_210_123, 4_294_967_297],
  ])('proves leaf inclusion in a tree of size %i at index %i', (size, index) => {
    const proof = fold(inclusionProofPlan(index, size));
    expect(verifyInclusion(index, size, levelHashes[0]!, proof, rootOf(size))).toBe(true);
    expect(verifyInclusion(index, size * 2, levelHashes[0]!, proof, rootOf(size))).toBe(false);
    expect(
      verifyInclusion(index, size, levelHashes[0]!, [flipped(proof[0]!), ...proof.slice(1)], rootOf(size)),
    ).toBe(false);
    expect(verifyInclusion(index, size, levelHashes[0]!, proof.slice(1), rootOf(size))).toBe(false);
  });

  it.each([
    [2 ** 32 + 1, 2 ** 40 + 7],
    [2 ** 51, 2 ** 52],
    [2 ** 52 - 3, 2 ** 52 - 1],
    [4_294_967_295, 9_876_543_210_123],
  ])('proves consistency from size %i to size %i', (from, to) => {
    const proof = fold(consistencyProofPlan(from, to));
    expect(verifyConsistency(from, to, rootOf(from), rootOf(to), proof)).toBe(true);
    expect(verifyConsistency(from, to, rootOf(to), rootOf(from), proof)).toBe(false);
    expect(verifyConsistency(from, to, rootOf(from), rootOf(to), proof.slice(1))).toBe(false);
  });
});

describe('verification edge cases', () => {
  const some = hex('abacaba000000000000000000000000000000000000000000060061e00123456');

  it('verifies a single-entry tree with an empty proof and nothing else', () => {
    const leaf = leafHash(Buffer.from('data'));
    expect(verifyInclusion(0, 1, leaf, [], leaf)).toBe(true);
    expect(verifyInclusion(0, 1, leaf, [], some)).toBe(false);
    expect(verifyInclusion(0, 1, Buffer.alloc(0), [], leaf)).toBe(false);
    expect(verifyInclusion(0, 1, Buffer.alloc(0), [], Buffer.alloc(0))).toBe(false);
  });

  it('never verifies an index outside the tree, and never throws', () => {
    for (const [index, size] of [
      [0, 0],
      [1, 0],
      [2, 1],
      [-1, 1],
      [Number.NaN, 1],
      [0, 2 ** 53],
    ] as const) {
      expect(verifyInclusion(index, size, some, [], EMPTY_TREE_ROOT)).toBe(false);
      expect(verifyInclusion(index, size, some, [], some)).toBe(false);
    }
  });

  it('treats equal sizes and size zero as the brief says', () => {
    expect(verifyConsistency(1, 1, some, some, [])).toBe(true);
    expect(verifyConsistency(5, 5, some, some, [])).toBe(true);
    expect(verifyConsistency(5, 5, some, EMPTY_TREE_ROOT, [])).toBe(false);
    expect(verifyConsistency(5, 5, some, some, [some])).toBe(false);
    expect(verifyConsistency(0, 0, EMPTY_TREE_ROOT, EMPTY_TREE_ROOT, [])).toBe(false);
    expect(verifyConsistency(0, 1, EMPTY_TREE_ROOT, some, [])).toBe(false);
    expect(verifyConsistency(1, 0, some, EMPTY_TREE_ROOT, [])).toBe(false);
    expect(verifyConsistency(2, 1, some, some, [some])).toBe(false);
    expect(verifyConsistency(1, 2, some, some, [])).toBe(false);
  });
});
