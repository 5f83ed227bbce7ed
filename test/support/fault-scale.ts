/**
 * How hard the fault suite (`npm run test:faults`) pushes: FAULTS_SCALE multiplies its iteration counts (kills,
 * outages, clients' files, fuzzing runs); the default 1 fits CI's time budget. FAULTS_SEED fixes the seed of
 * the random choices and of fast-check (each test prints the seed it used), to replay a failure.
 */
export function faultScale(): number {
  const text = process.env.FAULTS_SCALE;
  if (text === undefined || text === '') return 1;
  const scale = Number(text);
  if (!Number.isFinite(scale) || scale <= 0)
    throw new Error(`FAULTS_SCALE must be a positive number, got ${text}`);
  return scale;
}

/** `count` times the scale, at least 1. */
export function scaled(count: number): number {
  return Math.max(1, Math.round(count * faultScale()));
}

/** The seed for this run: FAULTS_SEED, or a fresh one; printed so that a failure can be replayed. */
export function faultSeed(label: string): number {
  const text = process.env.FAULTS_SEED;
  const seed = text ? Number(text) : Math.floor(Math.random() * 0x7fffffff);
  if (!Number.isSafeInteger(seed)) throw new Error(`FAULTS_SEED must be an integer, got ${text}`);
  console.log(`${label}: FAULTS_SEED=${seed} (FAULTS_SCALE=${faultScale()})`);
  return seed;
}

/** A small seeded generator (mulberry32): the same seed gives the same choices. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
