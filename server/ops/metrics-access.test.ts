import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode } from '../../test/helpers/node.ts';
import { parseTrustedProxies } from '../api/client-ip.ts';
import { ConfigError, loadConfig } from '../config.ts';
import { metricsAccess } from './metrics-access.ts';

const TOKEN = 'm'.repeat(40);

describe.each(['uws', 'ws'] as const)('/metrics on the public port over %s', (socketServer) => {
  let open: Awaited<ReturnType<typeof startTestNode>>;
  let closed: Awaited<ReturnType<typeof startTestNode>>;
  beforeAll(async () => {
    open = await startTestNode({ SOCKET_SERVER: socketServer });
    closed = await startTestNode({
      SOCKET_SERVER: socketServer,
      METRICS_ALLOW: '10.0.0.0/8',
      METRICS_TOKEN: TOKEN,
    });
  });
  afterAll(async () => {
    await Promise.all([open.node.stop(), closed.node.stop()]);
  });

  it('default: served to loopback, refused to loopback-looking requests that came through a proxy', async () => {
    expect((await fetch(`${open.baseUrl}/metrics`)).status).toBe(200);
    for (const header of ['x-forwarded-for', 'forwarded', 'x-real-ip']) {
      const res = await fetch(`${open.baseUrl}/metrics`, {
        headers: { [header]: header === 'forwarded' ? 'for=198.51.100.7' : '198.51.100.7' },
      });
      expect(res.status).toBe(403);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(await res.json()).toMatchObject({ code: 'metrics_forbidden' });
    }
  });

  it('outside METRICS_ALLOW: 403 without the token, 200 with it, 403 with a wrong or malformed one', async () => {
    expect((await fetch(`${closed.baseUrl}/metrics`)).status).toBe(403);
    const withToken = await fetch(`${closed.baseUrl}/metrics`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(withToken.status).toBe(200);
    expect(await withToken.text()).toContain('carecall_rooms');
    for (const authorization of [
      `Bearer ${TOKEN}x`,
      `Bearer ${TOKEN.slice(1)}`,
      TOKEN,
      `Basic ${TOKEN}`,
      'Bearer ',
    ]) {
      expect((await fetch(`${closed.baseUrl}/metrics`, { headers: { authorization } })).status).toBe(403);
    }
    // Liveness and readiness stay public: load balancers need them.
    expect((await fetch(`${closed.baseUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${closed.baseUrl}/readyz`)).status).toBe(200);
  });
});

describe('metricsAccess rules', () => {
  const headers = (h: Record<string, string> = {}) => new Headers(h);
  const allow = parseTrustedProxies(['10.0.0.0/8', '::1']);
  const trustedProxies = parseTrustedProxies(['127.0.0.1']);

  it('through a trusted proxy the client address decides; through an unknown one nobody gets in by address', () => {
    const behindProxy = metricsAccess({ allow, trustedProxies });
    expect(behindProxy('127.0.0.1', headers({ 'x-forwarded-for': '10.1.2.3' }))).toBe(true);
    expect(behindProxy('127.0.0.1', headers({ 'x-forwarded-for': '198.51.100.7' }))).toBe(false);
    expect(behindProxy('127.0.0.1', headers({ forwarded: 'for=10.1.2.3' }))).toBe(false);
    // An untrusted peer's X-Forwarded-For is ignored, and its own address is not listed.
    expect(behindProxy('198.51.100.7', headers({ 'x-forwarded-for': '10.1.2.3' }))).toBe(false);
    expect(behindProxy('10.9.9.9', headers({ 'x-forwarded-for': '10.1.2.3' }))).toBe(false);
    expect(behindProxy('10.9.9.9', headers())).toBe(true);
    expect(behindProxy('::ffff:10.9.9.9', headers())).toBe(true);
    expect(behindProxy('::1', headers())).toBe(true);
    expect(behindProxy(undefined, headers())).toBe(false);
  });

  it('an empty METRICS_ALLOW lets in only the token', () => {
    const tokenOnly = metricsAccess({ allow: parseTrustedProxies([]), token: TOKEN });
    expect(tokenOnly('127.0.0.1', headers())).toBe(false);
    expect(tokenOnly('198.51.100.7', headers({ authorization: `Bearer ${TOKEN}` }))).toBe(true);
  });

  it('configuration: bad ranges and short tokens fail at start, naming the variable', () => {
    const variables = (env: Record<string, string>) => {
      try {
        loadConfig(env);
        return [];
      } catch (err) {
        return (err as ConfigError).issues.map((i) => i.variable);
      }
    };
    expect(variables({ METRICS_ALLOW: '10.0.0.0/33' })).toEqual(['METRICS_ALLOW']);
    expect(variables({ METRICS_ALLOW: 'localhost' })).toEqual(['METRICS_ALLOW']);
    expect(variables({ METRICS_TOKEN: 'short' })).toEqual(['METRICS_TOKEN']);
    expect(variables({ METRICS_TOKEN: `${'a'.repeat(32)} b` })).toEqual(['METRICS_TOKEN']);
    expect(loadConfig({}).metrics).toEqual({ allow: ['127.0.0.1', '::1'], token: undefined });
    expect(loadConfig({ METRICS_ALLOW: '' }).metrics.allow).toEqual([]);
  });
});
