import { ProblemError } from '../api/errors.ts';
import { PROBLEM } from '../api/problem-codes.ts';

const utf8 = new TextEncoder();
/** NUL cannot be stored in text columns downstream; a lone surrogate would be replaced silently by UTF-8 encoding. */
const UNSTORABLE = /\u0000|\p{Cs}/u;

/** The message text as UTF-8 bytes, or a typed error: empty, unstorable or too long text is refused before anything is stored. */
export function messageBytes(body: unknown, maxBytes: number): Uint8Array {
  if (typeof body !== 'string' || body.trim().length === 0)
    throw new ProblemError(422, PROBLEM.messageInvalid, 'a message needs text');
  if (UNSTORABLE.test(body))
    throw new ProblemError(422, PROBLEM.messageInvalid, 'the message holds characters that cannot be stored');
  // A cheap bound first: UTF-8 takes at most 3 bytes per UTF-16 unit.
  if (body.length > maxBytes) throw tooLarge(maxBytes);
  const bytes = utf8.encode(body);
  if (bytes.length > maxBytes) throw tooLarge(maxBytes);
  return bytes;
}

const tooLarge = (maxBytes: number) =>
  new ProblemError(413, PROBLEM.messageTooLarge, `messages are limited to ${maxBytes} bytes of UTF-8`);

/** Message ids are the sender's UUIDs: the dedupe key of a retried send, and the sealed body's associated data. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export function assertMessageId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || !UUID.test(id))
    throw new ProblemError(
      400,
      PROBLEM.invalidRequest,
      'a message id is a lower-case UUID made by the sender',
    );
}

/**
 * Sends per member per second, as a token bucket (a burst, refilled at the rate). Per node: a member
 * whose sockets sit on two nodes may send up to twice the rate, which still stops a runaway client.
 * Other per-user limits (ICD-10 search as a doctor types) use it too, with their own message.
 */
export class SendRateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
    private readonly refusal = 'too many messages; slow down',
  ) {}

  take(memberKey: string): void {
    const t = this.now();
    const b = this.#buckets.get(memberKey) ?? { tokens: this.burst, at: t };
    b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.perSecond);
    b.at = t;
    if (b.tokens < 1) {
      this.#buckets.set(memberKey, b);
      throw new ProblemError(
        429,
        PROBLEM.rateLimited,
        this.refusal,
        [],
        Math.max(1, Math.ceil((1 - b.tokens) / this.perSecond)),
      );
    }
    b.tokens -= 1;
    this.#buckets.set(memberKey, b);
    // Full buckets carry no information: drop them now and then so idle members cost nothing.
    if (this.#buckets.size > 50_000) this.#sweep(t);
  }

  #sweep(t: number) {
    for (const [key, b] of this.#buckets)
      if (b.tokens + ((t - b.at) / 1000) * this.perSecond >= this.burst) this.#buckets.delete(key);
  }
}
