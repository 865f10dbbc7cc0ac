import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Frame, Page } from 'puppeteer-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchChromium, openWindow, pageStats, waitForProbe } from '../test/helpers/browser.ts';
import { TEST_REDIS_URL } from '../test/helpers/env.ts';
import type { IdentityHarness } from '../test/helpers/identity.ts';
import { startTestNode } from '../test/helpers/node.ts';
import { createTestDatabase } from '../test/helpers/pg.ts';
import { booking, schedulingClinic, type SchedulingClinic } from '../test/helpers/scheduling.ts';
import { startWidgetHost } from '../test/helpers/widget-host.ts';

// The widget on a clinic's own site (a second loopback origin), in a booked consultation.
const slot = '2027-03-03T09:00:00Z';
const clock = { now: new Date(Date.parse(slot) - 5 * 60_000) };
const SCREENSHOTS = process.env.WIDGET_SCREENSHOT_DIR ?? join(tmpdir(), 'carecall-widget-screenshots');
let pg: Awaited<ReturnType<typeof createTestDatabase>>;
let n: Awaited<ReturnType<typeof startTestNode>>;
let chromium: Awaited<ReturnType<typeof launchChromium>>;
let c: SchedulingClinic;
let apiKey: string;
let appointmentId: string;
const closers: (() => Promise<unknown>)[] = [];

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
  return { status: res.status, body: text ? JSON.parse(text) : text };
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
  const booked = await call('POST', '/api/appointments', {
    token: c.patient.token,
    body: booking(c, c.patient.id, slot),
  });
  expect(booked.status).toBe(201);
  appointmentId = booked.body.id;
  const key = await call('POST', `/api/clinics/${c.clinicId}/api-keys`, {
    token: c.admin.token,
    body: { label: 'Clinic website' },
  });
  expect(key.status).toBe(201);
  apiKey = key.body.key;
  chromium = await launchChromium();
});
afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await chromium?.close();
  await n?.node.stop();
  await pg?.drop();
});

async function hostPage(allowed: boolean) {
  const host = await startWidgetHost({
    carecallUrl: n.baseUrl,
    apiKey,
    clinicId: c.clinicId,
    appointmentId,
    externalPatientId: 'CLINIC-A-4711',
  });
  closers.push(host.close);
  if (allowed) {
    const saved = await call('PUT', `/api/clinics/${c.clinicId}/widget-settings`, {
      token: c.admin.token,
      body: { allowedOrigins: [host.url], accentColor: '#0a7d5c', logoText: 'Clinic A video consultation' },
    });
    expect(saved.status).toBe(200);
  }
  const page = await openWindow(chromium.browser);
  closers.push(() => page.close());
  await page.setViewport({ width: 1100, height: 820 });
  await page.goto(host.url);
  return { page, host };
}

const events = (page: Page) => page.evaluate('window.widgetEvents.map((e) => e.name)') as Promise<string[]>;
const waitForEvent = (page: Page, name: string, timeout = 20_000) =>
  page.waitForFunction(`window.widgetEvents.some((e) => e.name === ${JSON.stringify(name)})`, { timeout });
async function widgetFrame(page: Page): Promise<Frame> {
  await page.waitForSelector('iframe[name^="carecall-frame-"]');
  for (let i = 0; i < 100; i++) {
    const frame = page.frames().find((f) => f.url().startsWith(`${n.baseUrl}/embed/consult.html`));
    if (frame) return frame;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the widget frame never loaded');
}

it('embedded on an allowed site: pre-call check, waiting room, admitted by the doctor, events on the host page', async () => {
  const token = await call('POST', `/api/appointments/${appointmentId}/join-token`, {
    token: c.doctor.token,
  });
  const doctor = await openWindow(chromium.browser);
  closers.push(() => doctor.close());
  await doctor.setViewport({ width: 1280, height: 720 });
  await doctor.goto(`${n.baseUrl}/app/#token=${token.body.token}`);
  await waitForProbe(doctor, "window.carecall.status === 'admitted'");

  const { page } = await hostPage(true);
  await waitForEvent(page, 'ready');
  const frame = await widgetFrame(page);
  await frame.waitForSelector('#checks li[data-check="signaling"][data-state="ok"]', { timeout: 15_000 });
  expect(await frame.$eval('#embed-brand', (e) => e.textContent)).toBe('Clinic A video consultation');
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, 'widget-precall.png') });
  await page.evaluate('window.CareCall.frames[0].join()');
  await waitForEvent(page, 'joined');
  await frame.waitForFunction("window.carecall.status === 'waiting'", { timeout: 15_000 });
  await doctor.waitForSelector('#waiting button.admit', { visible: true });
  await doctor.click('#waiting button.admit');
  await waitForEvent(page, 'admitted');
  // Media flows both ways: the doctor decodes the widget patient's camera and the frame the doctor's.
  await doctor.waitForFunction(
    'window.carecall.stats().then((s) => s.video.some((v) => v.framesDecoded > 10))',
    { timeout: 20_000 },
  );
  await frame.waitForFunction(
    'window.carecall.stats().then((s) => s.video.some((v) => v.framesDecoded > 10))',
    { timeout: 20_000 },
  );
  expect((await pageStats(doctor)).video.length).toBeGreaterThan(0);
  await page.screenshot({ path: join(SCREENSHOTS, 'widget-in-host-page.png') });

  await page.evaluate('window.CareCall.frames[0].leave()');
  await waitForEvent(page, 'left');
  expect(await events(page)).toEqual(['ready', 'joined', 'admitted', 'left']);
  // What the host page heard carries no token and no patient data.
  const heard = JSON.stringify(await page.evaluate('window.widgetEvents'));
  expect(heard).not.toContain('CLINIC-A-4711');
  expect(heard).not.toMatch(/eyJ/);
});

it('the same page on a site the clinic does not allow: the frame shows the refusal and nothing reaches the host', async () => {
  // Allowed origins are now only the first host's: this one is another port, another origin.
  const { page } = await hostPage(false);
  const frame = await widgetFrame(page);
  await frame.waitForSelector('#refused-reason', { timeout: 15_000 });
  expect(await frame.$eval('#refused-reason', (e) => e.getAttribute('data-reason'))).toBe('origin');
  expect(await frame.$eval('#refused-reason', (e) => e.textContent)).toContain(
    "This site may not embed this clinic's consultation",
  );
  await page.screenshot({ path: join(SCREENSHOTS, 'widget-refused.png') });
  await new Promise((r) => setTimeout(r, 500));
  expect(await events(page)).toEqual([]);
});
