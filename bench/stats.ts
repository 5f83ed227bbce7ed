/** The median of a non-empty list. */
export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** The p-th percentile (nearest rank) of a non-empty list. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  const value = sorted[rank];
  if (value === undefined) throw new Error('percentile of an empty list');
  return value;
}

/** Latencies in ms as the suites report them: how many, p50, p99 and the largest. */
export interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** The summary of `latencies` (ms); NaN figures for none. */
export function summarize(latencies: readonly number[]): LatencySummary {
  if (latencies.length === 0) return { count: 0, p50Ms: NaN, p99Ms: NaN, maxMs: NaN };
  return {
    count: latencies.length,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: percentile(latencies, 100),
  };
}
