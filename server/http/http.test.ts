import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode } from '../../test/helpers/node.ts';
import { MAX_BODY_BYTES } from '../app.ts';

describe.each(['uws', 'ws'] as const)('one port over %s: HTTP goes to the Hono app', (socketServer) => {
  let t: Awaited<ReturnType<typeof startTestNode>>;
  beforeAll(async () => {
    t = await startTestNode({ SOCKET_SERVER: socketServer });
  });
  afterAll(async () => {
    await t.node.stop();
  });

  it('/healthz and /readyz report ok with each dependency checked', async () => {
    expect(await (await fetch(`${t.baseUrl}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${t.baseUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: 'ready',
      checks: { database: 'ok', bus: 'ok', sfu: 'ok', cluster: 'ok' },
    });
  });

  it('/metrics speaks Prometheus text format, every series labelled with the node id', async () => {
    const res = await fetch(`${t.baseUrl}/metrics`);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    const node = `node="${t.node.nodeId}"`;
    expect(text).toContain(`carecall_sfu_workers_alive{${node}} 1\n`);
    expect(text).toContain(`carecall_rooms{${node}} 0\n`);
    expect(text).toContain('process_cpu_user_seconds_total');
  });

  it('unknown routes -> 404 problem+json; POST bodies are read and limited', async () => {
    const res = await fetch(`${t.baseUrl}/nope?x=1`, { method: 'POST', body: JSON.stringify({ a: 1 }) });
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(await res.json()).toMatchObject({ status: 404, code: 'not_found' });
    const big = await fetch(`${t.baseUrl}/nope`, {
      method: 'POST',
      body: new Uint8Array(MAX_BODY_BYTES + 1),
    });
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ code: 'payload_too_large' });
  });

  it('serves the built web client under /app/ and redirects / there', async () => {
    const root = await fetch(`${t.baseUrl}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/app/');
    const page = await fetch(`${t.baseUrl}/app/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(await page.text()).toContain('<title>CareCall');
  });
});

it('/readyz -> 503 naming the failing dependency; lease renewals stopping fail the cluster check', async () => {
  const t = await startTestNode({ CLUSTER_LEASE_MS: '600', CLUSTER_HEARTBEAT_MS: '100' });
  try {
    await t.node.bus.close();
    const res = await fetch(`${t.baseUrl}/readyz`);
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(await res.json()).toMatchObject({
      code: 'not_ready',
      checks: { bus: 'failing', database: 'ok', sfu: 'ok' },
    });
    // Three missed beats (no lease renewed): the node says so itself, not only through the bus ping.
    await new Promise((r) => setTimeout(r, 450));
    expect(await (await fetch(`${t.baseUrl}/readyz`)).json()).toMatchObject({
      checks: { bus: 'failing', cluster: 'failing' },
    });
  } finally {
    await t.node.stop();
  }
});

it('demo mode: links mint fresh tokens for the doctor and the patient of one room', async () => {
  const t = await startTestNode({ DEMO: 'on' });
  try {
    const links = t.node.demoLinks()!;
    const urls = [links.doctor, links.patient].map((l) => l.replace(/^http:\/\/[^/]+/, t.baseUrl));
    const tokens: string[] = [];
    for (const url of urls) {
      const res = await fetch(url, { redirect: 'manual' });
      expect(res.status).toBe(302);
      const token = decodeURIComponent(res.headers.get('location')!.split('#token=')[1]!);
      tokens.push(token);
    }
    const claims = tokens.map((tk) => JSON.parse(Buffer.from(tk.split('.')[1]!, 'base64url').toString()));
    expect(claims.map((c) => c.role)).toEqual(['doctor', 'patient']);
    expect(claims[0].room).toBe(claims[1].room);
    const wrongKey = await fetch(`${t.baseUrl}/demo/wrong/doctor`, { redirect: 'manual' });
    expect(wrongKey.status).toBe(404);
  } finally {
    await t.node.stop();
  }
});
