/**
 * The V8 flag the server runs with: the old generation may grow to 256 MiB before V8 starts marking it.
 *
 * Every upload and download moves its bytes through short-lived Buffers (the socket's 64 KiB reads, the verified
 * read's 1 MiB chunks), and V8 counts that memory against the old generation's limit until the next full
 * collection. The server's live heap is small (≈ 30 MiB), so once V8 has sized that limit to it (≈ 50 MiB) a
 * transfer reaches the limit every few dozen MiB and a full mark-compact starts again and again: measured on
 * 1 GiB transfers, from the fourth one on, a PUT took 3.7 instead of 2.0 CPU-s and a verified GET 2.1 instead of
 * 0.7 (ADR 0008). A floor of 256 MiB keeps the limit above that churn for +30 MiB of peak RSS.
 * It must be given on node's command line: V8 sizes its heap when the process starts, and NODE_OPTIONS refuses it.
 */
export const SERVER_NODE_FLAGS = ['--initial-old-space-size=256'] as const;

/** Whether node was started with a floor for its old generation (ours, or one the operator chose). */
export function hasOldSpaceFloor(execArgv: readonly string[]): boolean {
  return execArgv.some((argument) => /^--initial-(old-space|heap)-size(=|$)/.test(argument));
}
