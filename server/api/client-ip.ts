import { BlockList, isIP } from 'node:net';

/** `::ffff:1.2.3.4` (an IPv4 peer on a dual-stack socket) is the IPv4 address 1.2.3.4. */
function normalize(address: string): string {
  const a = address.trim();
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(a) ? a.slice(7) : a;
}

/** Parses "10.0.0.0/8,127.0.0.1,fd00::/8"; throws naming the first entry that is not an IP or CIDR. */
export function parseTrustedProxies(spec: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of spec) {
    const [address = '', prefix] = entry.split('/');
    const family = isIP(address);
    if (!family) throw new Error(`${entry} is not an IP address or CIDR range`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (prefix === undefined) {
      list.addAddress(address, type);
      continue;
    }
    const bits = Number(prefix);
    if (!/^\d+$/.test(prefix) || bits > (family === 4 ? 32 : 128))
      throw new Error(`${entry} has an invalid prefix length`);
    list.addSubnet(address, bits, type);
  }
  return list;
}

/**
 * The client's address. Only when the direct peer is a trusted proxy does X-Forwarded-For count:
 * it is read from the right (each proxy appends the address it saw), skipping trusted proxies, and
 * the first address not trusted is the client. Anyone else could write any X-Forwarded-For, so for
 * an untrusted peer (or with no proxies configured) the socket address is the answer.
 */
export function clientAddress(
  remoteAddress: string,
  forwardedFor: string | undefined,
  trusted: BlockList | undefined,
): string {
  const peer = normalize(remoteAddress);
  if (!trusted || !forwardedFor || !isTrustedAddress(trusted, peer)) return peer;
  const hops = forwardedFor.split(',').map(normalize).filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    if (!isIP(hop)) return peer; // a malformed chain says nothing reliable
    if (!isTrustedAddress(trusted, hop)) return hop;
  }
  return hops[0] ?? peer;
}

function isTrustedAddress(list: BlockList, address: string): boolean {
  const family = isIP(address);
  return family !== 0 && list.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** Whether `address` (a socket peer or a resolved client) is in `list` (an IPv4-mapped IPv6 peer counts as IPv4). */
export function addressInList(list: BlockList | undefined, address: string): boolean {
  return !!list && isTrustedAddress(list, normalize(address));
}
