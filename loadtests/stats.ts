/** Nearest-rank percentile of samples sorted ascending (p in 0..100). */
export const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.max(0, Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1))]!;

/** p50/p95/p99 of unsorted latencies, in ms rounded to 0.1. */
export function latencySummary(latencies: readonly number[]) {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (p: number) => Math.round(percentile(sorted, p) * 10) / 10;
  return { p50: at(50), p95: at(95), p99: at(99) };
}
