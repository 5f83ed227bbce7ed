import { seededRandom } from './fault-scale.js';

/**
 * The seed and size of the collector's race stress test. GC_RACE_SEED replays a run (every run prints its seed);
 * GC_RACE_SCALE multiplies the number of uploads (default 1: 200 uploads).
 */
export function gcRaceSeed(label: string): number {
  const text = process.env.GC_RACE_SEED;
  const seed = text ? Number(text) : Math.floor(Math.random() * 0x7fffffff);
  if (!Number.isSafeInteger(seed)) throw new Error(`GC_RACE_SEED must be an integer, got ${text}`);
  console.log(`${label}: GC_RACE_SEED=${seed}`);
  return seed;
}

export function gcRaceScale(): number {
  const text = process.env.GC_RACE_SCALE;
  if (text === undefined || text === '') return 1;
  const scale = Number(text);
  if (!Number.isFinite(scale) || scale <= 0)
    throw new Error(`GC_RACE_SCALE must be a positive number, got ${text}`);
  return scale;
}

/** What happens to a package while the uploads run: finalized, deleted, or left open. */
export type PackageFate = 'finalize' | 'delete' | 'stay';

/** One upload of a plan: pool content `content` at `path`, staged and attached in two calls when `split`. */
export interface StressUpload {
  readonly content: number;
  readonly path: string;
  readonly split: boolean;
}

/**
 * One package of a plan: its uploads, all sent at once, and its fate, which comes once `fateAfter` of them have
 * finished: usually all of them, sometimes fewer, so that the rest race the finalize or delete (and are refused).
 */
export interface StressPackage {
  readonly uploads: readonly StressUpload[];
  readonly fate: PackageFate;
  readonly fateAfter: number;
}

/**
 * Packages holding `uploads` uploads in all, of content drawn from a pool of `contents`, 1 to 4 each. Most are
 * deleted, so that their contents keep dying and coming back while other uploads of the same bytes are on their
 * way; those that stay live (finalized, or left open) come only in the last quarter, since a live file pins its blob
 * for good, which would end the churn. Half of the uploads are split into stage and attach, which stretches the
 * window between dedup and commit. The same seed gives the same plan.
 */
export function stressPlan(seed: number, uploads: number, contents: number): StressPackage[] {
  const random = seededRandom(seed);
  const pick = (n: number): number => Math.floor(random() * n);
  const packages: StressPackage[] = [];
  let planned = 0;
  while (planned < uploads) {
    const late = planned >= uploads * 0.75;
    const count = Math.min(1 + pick(4), uploads - planned);
    const files = Array.from({ length: count }, (_, index) => ({
      content: pick(contents),
      path: `f-${planned + index}.bin`,
      split: random() < 0.5,
    }));
    planned += count;
    const roll = random();
    const fate: PackageFate = !late || roll < 0.4 ? 'delete' : roll < 0.75 ? 'finalize' : 'stay';
    packages.push({ uploads: files, fate, fateAfter: random() < 0.8 ? count : pick(count) });
  }
  return packages;
}
