import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { ProblemError } from '../api/errors.ts';
import { PROBLEM } from '../api/problem-codes.ts';

/** Where an endpoint may point: `allowHttp` in development and test only, `allowPrivate` by option. */
export type TargetRules = { allowHttp: boolean; allowPrivate: boolean };

const MAX_URL_LENGTH = 2048;

/**
 * Addresses a webhook must never reach: loopback, private networks, link-local (cloud metadata at
 * 169.254.169.254), carrier-grade NAT, multicast, documentation and reserved ranges, in IPv4 and
 * IPv6 (IPv4-mapped IPv6 is checked as the IPv4 it maps).
 */
const PRIVATE = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  PRIVATE.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  PRIVATE.addSubnet(net, prefix, 'ipv6');

/** Whether an IP address (v4 or v6) is one a webhook may not be sent to. */
export function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return PRIVATE.check(mapped[1]!, 'ipv4');
  const family = isIP(address);
  if (family === 0) return true;
  return PRIVATE.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

const badUrl = (message: string) =>
  new ProblemError(422, PROBLEM.invalidWebhookUrl, message, [{ field: 'url', message }]);

/**
 * Checks an endpoint URL as the admin enters it: absolute, https (http only where the rules allow),
 * no credentials, and not naming a private or loopback address or a local host name. A public name
 * that resolves to a private address is caught when connecting (guardedLookup), since DNS can
 * change after the check.
 */
export function checkEndpointUrl(input: string, rules: TargetRules): string {
  if (input.length > MAX_URL_LENGTH) throw badUrl(`a URL may be at most ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw badUrl('not an absolute URL');
  }
  if (url.protocol !== 'https:' && !(rules.allowHttp && url.protocol === 'http:'))
    throw badUrl(rules.allowHttp ? 'the URL must be http or https' : 'the URL must be https');
  if (url.username || url.password) throw badUrl('the URL must not carry credentials');
  if (url.hash) throw badUrl('the URL must not have a fragment');
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (!rules.allowPrivate) {
    if (isIP(host) ? isPrivateAddress(host) : isLocalName(host))
      throw badUrl('the URL points at a private, loopback or local address');
  }
  return url.toString();
}

/** Names that only mean something inside a network: a single label, localhost, .local, .internal and the like. */
function isLocalName(host: string): boolean {
  if (!host.includes('.')) return true;
  return /(^|\.)(localhost|local|internal|intranet|lan|home\.arpa|corp)\.?$/.test(host);
}

/** Thrown by guardedLookup: the name resolved to an address webhooks may not reach. */
export class RefusedAddressError extends Error {
  readonly code = 'ERR_WEBHOOK_REFUSED_ADDRESS';
  constructor(host: string) {
    super(`${host} resolves to a private or loopback address`);
    this.name = 'RefusedAddressError';
  }
}

/**
 * A DNS lookup for http.request that refuses private addresses at connect time, so a name that
 * passed the check and later resolves to 10.x or 127.0.0.1 (DNS rebinding) is still not reached.
 */
export function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list = addresses as LookupAddress[];
      const usable = allowPrivate ? list : list.filter((a) => !isPrivateAddress(a.address));
      if (usable.length === 0) return callback(new RefusedAddressError(hostname), '', 0);
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, usable);
      callback(null, usable[0]!.address, usable[0]!.family);
    });
  };
}
