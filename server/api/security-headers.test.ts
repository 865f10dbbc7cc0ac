import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode } from '../../test/helpers/node.ts';
import { MAX_BODY_BYTES } from '../app.ts';
import { securityHeaderValues } from './security-headers.ts';

const ASSETS = readdirSync(new URL('../../web-client/dist/assets', import.meta.url)).filter(
  (f) => !f.endsWith('.map'),
);

/** A concrete URL for a route pattern: ids, a guest-link key, a feed file name, a demo role. */
function concrete(path: string): string {
  return path
    .replace(/:key\{.*\}$/, 'k'.repeat(24))
    .replace(/:file/, `${'f'.repeat(43)}.ics`)
    .replace(/:who/, 'doctor')
    .replace(/:key/, 'demo-key')
    .replace(/:\w+/g, () => randomUUID());
}

type Answer = { status: number; headers: Headers };

/** Every route of the app (its own table), plus the static client's pages and assets and some misses. */
function targets(routes: { method: string; path: string }[]) {
  const seen = new Set<string>();
  const out: { method: string; url: string }[] = [];
  for (const r of routes) {
    if (r.method === 'ALL' || r.path.includes('*')) continue;
    const key = `${r.method} ${r.path}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ method: r.method, url: concrete(r.path) });
  }
  for (const url of [
    '/app/',
    '/app/index.html',
    '/app/precall.html',
    ...ASSETS.map((a) => `/app/assets/${a}`),
    '/app/missing.js',
    '/nope',
    '/api/nope',
  ]) {
    out.push({ method: 'GET', url });
  }
  return out;
}

function expectBaseline(where: string, headers: Headers) {
  expect(headers.get('x-content-type-options'), where).toBe('nosniff');
  expect(headers.get('x-frame-options'), where).toBe('DENY');
  expect(headers.get('referrer-policy'), where).toBe('no-referrer');
  const csp = headers.get('content-security-policy') ?? '';
  expect(csp, where).toContain("frame-ancestors 'none'");
  expect(csp, where).not.toContain('unsafe-inline');
  expect(csp, where).not.toMatch(/'unsafe-eval'/); // 'wasm-unsafe-eval' (wasm only) is allowed on the room pages
}

describe.each(['uws', 'ws'] as const)('security headers on every route over %s', (socketServer) => {
  let t: Awaited<ReturnType<typeof startTestNode>>;
  beforeAll(async () => {
    t = await startTestNode({ SOCKET_SERVER: socketServer, DEMO: 'on' });
  });
  afterAll(async () => {
    await t.node.stop();
  });

  it('pages, API routes, assets, redirects, errors and 404s all carry them', async () => {
    const list = targets(t.node.app.routes);
    expect(list.length).toBeGreaterThan(80);
    const statuses = new Set<number>();
    for (const { method, url } of list) {
      const init: RequestInit = { method, redirect: 'manual' };
      if (!['GET', 'HEAD'].includes(method))
        Object.assign(init, { body: '{}', headers: { 'content-type': 'application/json' } });
      const res: Answer = await fetch(`${t.baseUrl}${url}`, init);
      statuses.add(res.status);
      const where = `${method} ${url} -> ${res.status}`;
      expectBaseline(where, res.headers);
      expect(res.headers.get('permissions-policy'), where).toContain('camera=(self)');
      expect(res.headers.get('strict-transport-security'), where).toBeNull();
      if (/^text\/html/.test(res.headers.get('content-type') ?? '')) {
        expect(res.headers.get('content-security-policy'), where).toContain("script-src 'self'");
      } else {
        expect(res.headers.get('content-security-policy'), where).toMatch(/^default-src 'none'/);
      }
    }
    // The walk reached real answers, not only refusals.
    for (const s of [200, 302, 401, 404]) expect(statuses).toContain(s);
  });

  it('the room and pre-call pages get the page policy: own scripts (and wasm, for background blur) only, media and camera for this origin', async () => {
    for (const page of ['/app/', '/app/index.html', '/app/precall.html']) {
      const res = await fetch(`${t.baseUrl}${page}`);
      const csp = res.headers.get('content-security-policy')!;
      expect(csp.split('; ')).toEqual(
        expect.arrayContaining([
          "default-src 'self'",
          "script-src 'self' 'wasm-unsafe-eval'",
          "connect-src 'self'",
          "object-src 'none'",
          "base-uri 'none'",
          "frame-ancestors 'none'",
        ]),
      );
      expect(csp).not.toMatch(/'unsafe-eval'|'unsafe-inline'/);
      expect(res.headers.get('permissions-policy')).toContain('microphone=(self)');
      expect(res.headers.get('permissions-policy')).toContain('display-capture=(self)');
      // No inline script in the built pages, so the policy needs no 'unsafe-inline'.
      expect(await res.text()).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    }
  });

  it('answers the socket tier writes itself: a refused upgrade and (over uws) a body over the limit', async () => {
    const refused = await new Promise<Record<string, string | string[] | undefined>>((resolve, reject) => {
      const req = request(`${t.baseUrl}/ws`, {
        headers: {
          upgrade: 'websocket',
          connection: 'Upgrade',
          'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
          'sec-websocket-version': '13',
        },
      });
      req.on('response', (res) => resolve(res.headers));
      req.on('upgrade', () => reject(new Error('accepted')));
      req.on('error', reject);
      req.end();
    });
    expectBaseline('refused upgrade', new Headers(refused as Record<string, string>));
    const big = await fetch(`${t.baseUrl}/api/auth/login`, {
      method: 'POST',
      body: new Uint8Array(MAX_BODY_BYTES + 1),
    });
    expect(big.status).toBe(413);
    expectBaseline('413', big.headers);
  });
});

it('HSTS_MAX_AGE_SECONDS adds Strict-Transport-Security everywhere', async () => {
  const t = await startTestNode({ HSTS_MAX_AGE_SECONDS: '31536000' });
  try {
    for (const url of ['/app/', '/healthz', '/api/me', '/nope']) {
      expect((await fetch(`${t.baseUrl}${url}`)).headers.get('strict-transport-security'), url).toBe(
        'max-age=31536000',
      );
    }
  } finally {
    await t.node.stop();
  }
});

it('a page some origins may frame (the widget hook) lists them and drops X-Frame-Options', () => {
  const opts = {
    frameAncestors: (path: string) =>
      path.startsWith('/embed/') ? ['https://clinic.example', 'https://www.clinic.example'] : undefined,
  };
  const embed = securityHeaderValues(opts, '/embed/room', 'text/html; charset=utf-8');
  expect(embed['content-security-policy']).toContain(
    'frame-ancestors https://clinic.example https://www.clinic.example',
  );
  expect(embed['x-frame-options']).toBeUndefined();
  // Only the consultation pages may compile wasm (background blur).
  expect(embed['content-security-policy']!.split('; ')).toContain("script-src 'self'");
  const other = securityHeaderValues(opts, '/app/', 'text/html');
  expect(other['content-security-policy']).toContain("frame-ancestors 'none'");
  expect(other['x-frame-options']).toBe('DENY');
});
