import { describe, expect, it } from 'vitest';
import { clientAddress, parseTrustedProxies } from './client-ip.ts';

describe('client address behind trusted proxies', () => {
  const trusted = parseTrustedProxies(['127.0.0.1', '10.0.0.0/8', 'fd00::/8']);

  it('takes the socket address when no proxy is configured or the peer is not a trusted proxy', () => {
    expect(clientAddress('203.0.113.7', '198.51.100.1', undefined)).toBe('203.0.113.7');
    expect(clientAddress('203.0.113.7', '198.51.100.1', trusted)).toBe('203.0.113.7');
    expect(clientAddress('::ffff:203.0.113.7', undefined, trusted)).toBe('203.0.113.7');
  });

  it('reads X-Forwarded-For from the right, skipping trusted hops, when the peer is a trusted proxy', () => {
    expect(clientAddress('127.0.0.1', '198.51.100.1', trusted)).toBe('198.51.100.1');
    // The client wrote a fake first entry; the proxies appended what they saw.
    expect(clientAddress('10.1.2.3', '1.1.1.1, 198.51.100.1, 10.9.9.9', trusted)).toBe('198.51.100.1');
    expect(clientAddress('::ffff:127.0.0.1', '2001:db8::5', trusted)).toBe('2001:db8::5');
    // Every hop trusted: the leftmost is the origin.
    expect(clientAddress('127.0.0.1', '10.0.0.5, 10.0.0.6', trusted)).toBe('10.0.0.5');
  });

  it('falls back to the socket address for a malformed chain', () => {
    expect(clientAddress('127.0.0.1', 'evil, 198.51.100.1, <script>', trusted)).toBe('127.0.0.1');
  });

  it('refuses entries that are not addresses or ranges', () => {
    expect(() => parseTrustedProxies(['localhost'])).toThrow('localhost is not an IP address or CIDR range');
    expect(() => parseTrustedProxies(['10.0.0.0/33'])).toThrow('invalid prefix length');
    expect(() => parseTrustedProxies(['10.0.0.0/x'])).toThrow('invalid prefix length');
  });
});
