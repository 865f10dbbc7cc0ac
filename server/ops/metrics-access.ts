import { createHash, timingSafeEqual } from 'node:crypto';
import type { BlockList } from 'node:net';
import { addressInList, clientAddress, parseTrustedProxies } from '../api/client-ip.ts';

export const DEFAULT_METRICS_ALLOW = ['127.0.0.1', '::1'];

export type MetricsAccessOptions = {
  /** Addresses or CIDR ranges allowed to scrape without a token (METRICS_ALLOW). */
  allow: BlockList;
  /** A bearer token that opens /metrics from anywhere (METRICS_TOKEN). */
  token?: string | undefined;
  trustedProxies?: BlockList | undefined;
};

/** Headers a reverse proxy adds: their presence means the socket's peer is not the client. */
const FORWARDING_HEADERS = ['x-forwarded-for', 'forwarded', 'x-real-ip'];

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * Who may read /metrics on the public port: a listed address, or whoever presents the token.
 * The address is the client's (through trusted proxies). A request that came through a proxy we
 * do not trust is never let in by address: a proxy on the same host would otherwise make every
 * visitor look like loopback.
 */
export function metricsAccess(opts: MetricsAccessOptions) {
  const expected = opts.token ? digest(opts.token) : undefined;
  return (remoteAddress: string | undefined, headers: Headers): boolean => {
    const auth = headers.get('authorization');
    if (expected && auth?.startsWith('Bearer ') && timingSafeEqual(digest(auth.slice(7)), expected))
      return true;
    if (!remoteAddress) return false;
    const forwarded = FORWARDING_HEADERS.some((h) => headers.has(h));
    if (forwarded && !(addressInList(opts.trustedProxies, remoteAddress) && headers.has('x-forwarded-for')))
      return false;
    const client = clientAddress(
      remoteAddress,
      headers.get('x-forwarded-for') ?? undefined,
      opts.trustedProxies,
    );
    return addressInList(opts.allow, client);
  };
}

export type MetricsAccess = ReturnType<typeof metricsAccess>;

export function defaultMetricsAccess(): MetricsAccess {
  return metricsAccess({ allow: parseTrustedProxies(DEFAULT_METRICS_ALLOW) });
}
