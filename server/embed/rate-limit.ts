import { ProblemError } from '../api/errors.ts';
import { PROBLEM } from '../api/problem-codes.ts';

/**
 * Calls per key as a token bucket (a burst, refilled at a steady rate), per node: N nodes let a
 * key through at up to N times the rate, which still stops a runaway clinic backend or a leaked key.
 */
export class KeyRateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  take(key: string): void {
    const t = this.now();
    const perMs = this.perMinute / 60_000;
    const b = this.#buckets.get(key) ?? { tokens: this.burst, at: t };
    b.tokens = Math.min(this.burst, b.tokens + (t - b.at) * perMs);
    b.at = t;
    this.#buckets.set(key, b);
    if (b.tokens < 1)
      throw new ProblemError(
        429,
        PROBLEM.rateLimited,
        'too many widget sessions for this API key; slow down',
        [],
        Math.max(1, Math.ceil((1 - b.tokens) / perMs / 1000)),
      );
    b.tokens -= 1;
  }
}
