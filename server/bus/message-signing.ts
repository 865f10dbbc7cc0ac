import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/**
 * Everything a node writes to Redis for other nodes to act on (bus messages, node states) is
 * signed with the cluster key, because Redis is a shared surface: another tenant's process or a
 * leaked password must not be able to inject signaling frames, open relay links or announce a
 * node. The MAC covers the subject (channel or key), so a message cannot be replayed into another
 * node's inbox, and a timestamp, so an old one cannot be replayed after a short window.
 *
 *   wire format: `<ms since epoch>.<base64url HMAC-SHA256>.<JSON>`
 */
export class MessageSigner {
  constructor(
    private readonly key: Buffer,
    /** How old (or how far in the future, for clock skew) a signed message may be. */
    private readonly maxAgeMs = 60_000,
  ) {}

  sign(subject: string, json: string, at = Date.now()): string {
    return `${at}.${this.#mac(subject, at, json)}.${json}`;
  }

  /** The JSON text if the signature holds and the message is fresh; undefined otherwise. */
  open(subject: string, payload: string, now = Date.now()): string | undefined {
    const first = payload.indexOf('.');
    const second = first < 0 ? -1 : payload.indexOf('.', first + 1);
    if (second < 0 || first > 15) return undefined;
    const at = Number(payload.slice(0, first));
    if (!Number.isSafeInteger(at) || Math.abs(now - at) > this.maxAgeMs) return undefined;
    const json = payload.slice(second + 1);
    const given = Buffer.from(payload.slice(first + 1, second), 'base64url');
    const expected = Buffer.from(this.#mac(subject, at, json), 'base64url');
    return given.length === expected.length && timingSafeEqual(given, expected) ? json : undefined;
  }

  #mac(subject: string, at: number, json: string) {
    return createHmac('sha256', this.key).update(`${subject}\n${at}\n`).update(json).digest('base64url');
  }
}

/**
 * Without CLUSTER_KEY (development and tests only; config refuses it in production) the nodes on
 * one Redis and prefix agree on a key derived from those: messages are still checked for shape and
 * subject, but anyone who knows the Redis URL can sign.
 */
export function developmentClusterKey(redisUrl: string, prefix: string): Buffer {
  return Buffer.from(hkdfSync('sha256', redisUrl, prefix, 'carecall cluster bus (development)', 32));
}
