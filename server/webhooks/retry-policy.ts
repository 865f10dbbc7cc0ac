/** What one attempt came to: a response (any status), or no response at all. */
export type AttemptResult =
  | { kind: 'response'; status: number; retryAfterMs: number | undefined; latencyMs: number }
  | { kind: 'error'; error: 'timeout' | 'network' | 'refused_address'; latencyMs: number };

export type RetryRules = { maxAttempts: number; retryBaseMs: number; retryMaxMs: number };

export type Verdict =
  | { outcome: 'succeeded' }
  /** Try again at `delayMs` from now. */
  | { outcome: 'retry'; delayMs: number }
  /** No more attempts: the receiver refused for good, or the attempts are used up. */
  | { outcome: 'failed' };

/**
 * 2xx is delivered. Timeouts, network errors, 408, 429 and 5xx are worth another try (the
 * receiver is busy or down); any other status means the receiver will refuse this delivery again,
 * as does an address that resolves into a private network.
 */
export function isRetryable(r: AttemptResult): boolean {
  if (r.kind === 'error') return r.error !== 'refused_address';
  return r.status === 408 || r.status === 429 || r.status >= 500;
}

export const succeeded = (r: AttemptResult) => r.kind === 'response' && r.status >= 200 && r.status < 300;

/** The longest wait a Retry-After can ask for; beyond it the receiver is asking for too much. */
export const MAX_RETRY_AFTER_MS = 24 * 3_600_000;

/**
 * The verdict after attempt number `attempt` (1 for the first). Back-off doubles from the base up
 * to the cap, with jitter over its upper half so that endpoints that failed together do not all
 * come back at once; a Retry-After asking for longer is honoured, beyond the cap too (up to
 * MAX_RETRY_AFTER_MS).
 */
export function verdict(r: AttemptResult, attempt: number, rules: RetryRules, random = Math.random): Verdict {
  if (succeeded(r)) return { outcome: 'succeeded' };
  if (!isRetryable(r) || attempt >= rules.maxAttempts) return { outcome: 'failed' };
  const ceiling = Math.min(rules.retryMaxMs, rules.retryBaseMs * 2 ** Math.min(attempt - 1, 40));
  const jittered = ceiling / 2 + random() * (ceiling / 2);
  const asked = r.kind === 'response' ? Math.min(r.retryAfterMs ?? 0, MAX_RETRY_AFTER_MS) : 0;
  return { outcome: 'retry', delayMs: Math.round(Math.max(jittered, asked)) };
}

/** Retry-After as seconds or an HTTP date; undefined if absent or unreadable. */
export function parseRetryAfter(header: string | undefined, now: number): number | undefined {
  if (!header) return undefined;
  const value = header.trim();
  if (/^\d{1,10}$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The short reason a delivery log shows for a failed attempt. */
export function errorLabel(r: AttemptResult): string | null {
  if (r.kind === 'error') return r.error;
  return succeeded(r) ? null : `http_${r.status}`;
}
