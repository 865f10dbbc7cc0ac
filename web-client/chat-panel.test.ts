import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'puppeteer-core';
import { launchChromium, openWindow, waitForProbe } from '../test/helpers/browser.ts';
import { TEST_REDIS_URL } from '../test/helpers/env.ts';
import type { IdentityHarness } from '../test/helpers/identity.ts';
import { startTestNode } from '../test/helpers/node.ts';
import { createTestDatabase } from '../test/helpers/pg.ts';
import { booking, schedulingClinic, type SchedulingClinic } from '../test/helpers/scheduling.ts';

// The chat panel as a doctor and a patient meet it in a real consultation (booked, join tokens from the API).
const slot = '2027-03-03T09:00:00Z';
const clock = { now: new Date(Date.parse(slot) - 5 * 60_000) };
let pg: Awaited<ReturnType<typeof createTestDatabase>>;
let n: Awaited<ReturnType<typeof startTestNode>>;
let chromium: Awaited<ReturnType<typeof launchChromium>>;
let c: SchedulingClinic;
const pages: Page[] = [];
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** Serious and critical axe-core findings on the page as it is now (evaluated over DevTools: the CSP refuses script tags). */
async function axe(page: Page) {
  await page.evaluate(AXE_SOURCE);
  const found = (await page.evaluate(async () => {
    const run = (
      window as unknown as {
        axe: { run: (d: Document, o: object) => Promise<{ violations: { id: string; impact: string }[] }> };
      }
    ).axe.run;
    return (await run(document, { resultTypes: ['violations'] })).violations.map((v) => ({
      id: v.id,
      impact: v.impact,
    }));
  })) as { id: string; impact: string }[];
  return found.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

async function call(method: string, path: string, opts: { token?: string; body?: unknown } = {}) {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await n.node.app.request(
    path,
    { method, headers, ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}) },
    { remoteAddress: '203.0.113.7' },
  );
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : text };
}

beforeAll(async () => {
  pg = await createTestDatabase();
  n = await startTestNode(
    {
      PASSWORD_HASH_STRENGTH: 'minimum',
      LOGIN_RATE_LIMIT_PER_MINUTE: '10000',
      JOIN_TOKEN_PRIVATE_KEY: generateKeyPairSync('ed25519')
        .privateKey.export({ format: 'pem', type: 'pkcs8' })
        .toString(),
      DATABASE_URL: pg.url,
      REDIS_URL: TEST_REDIS_URL,
    },
    { busPrefix: `test:${randomBytes(4).toString('hex')}:`, now: () => clock.now },
  );
  c = await schedulingClinic({
    db: n.node.db.db,
    identity: n.node.identity,
    call,
  } as unknown as IdentityHarness);
  chromium = await launchChromium();
});
afterAll(async () => {
  await Promise.all(pages.map((p) => p.close().catch(() => undefined)));
  await chromium?.close();
  await n?.node.stop();
  await pg?.drop();
});

async function open(joinToken: string) {
  const page = await openWindow(chromium.browser);
  pages.push(page);
  await page.setViewport({ width: 1280, height: 720 });
  await page.goto(`${n.baseUrl}/app/#token=${joinToken}`);
  return page;
}

describe('chat in the room page', () => {
  it('doctor and patient chat during a call: typing and read receipts are seen', async () => {
    const booked = await call('POST', '/api/appointments', {
      token: c.patient.token,
      body: booking(c, c.patient.id, slot),
    });
    expect(booked.status).toBe(201);
    const id = booked.body.id as string;
    const token = async (who: string) =>
      (await call('POST', `/api/appointments/${id}/join-token`, { token: who })).body.token as string;
    const doctor = await open(await token(c.doctor.token));
    await waitForProbe(doctor, "window.carecall.status === 'admitted'");
    const patient = await open(await token(c.patient.token));
    await waitForProbe(patient, "window.carecall.status === 'waiting'");
    await doctor.waitForSelector('#waiting button.admit', { visible: true });
    await doctor.click('#waiting button.admit');
    await waitForProbe(patient, "window.carecall.status === 'admitted'");

    await doctor.click('#chat-toggle');
    await patient.waitForSelector('#chat-toggle:not([disabled])');
    await patient.click('#chat-toggle');
    await patient.type('#chat-input', 'My knee still hurts');
    await doctor.waitForFunction(() => document.querySelector('#chat .typing')?.textContent !== '');
    await patient.click('#chat button[type=submit]');
    await doctor.waitForFunction(() =>
      [...document.querySelectorAll('#chat li.theirs .body')].some(
        (e) => e.textContent === 'My knee still hurts',
      ),
    );
    // The doctor has the panel open, so the message is read; the patient's row says so.
    await patient.waitForFunction(
      () => document.querySelector('#chat li.mine .receipt')?.textContent?.trim() === 'read',
    );
    expect(await patient.$$eval('#chat li.sending', (l) => l.length)).toBe(0);
    expect(await axe(doctor)).toEqual([]);
    expect(await axe(patient)).toEqual([]);
  });
});
