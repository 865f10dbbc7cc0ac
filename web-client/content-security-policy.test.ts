import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Page } from 'puppeteer-core';
import { launchChromium, openWindow, pageStats, waitForProbe } from '../test/helpers/browser.ts';
import { startTestNode } from '../test/helpers/node.ts';
import { mintFor, newRoomId } from '../test/helpers/tokens.ts';

// SCREENSHOT_DIR=/some/dir keeps a picture of each page as it ran under the policy.
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR;

let t: Awaited<ReturnType<typeof startTestNode>>;
let chromium: Awaited<ReturnType<typeof launchChromium>>;
beforeAll(async () => {
  t = await startTestNode();
  chromium = await launchChromium();
  if (SCREENSHOT_DIR) mkdirSync(SCREENSHOT_DIR, { recursive: true });
});
afterAll(async () => {
  await chromium?.close();
  await t?.node.stop();
});

/** A window that records every CSP violation the page reports (the policy blocks silently otherwise). */
async function watchedWindow(): Promise<{
  page: Page;
  violations: () => Promise<string[]>;
  refusals: string[];
}> {
  const page = await openWindow(chromium.browser);
  const refusals: string[] = [];
  page.on('console', (m) => /Content Security Policy|Refused to/i.test(m.text()) && refusals.push(m.text()));
  await page.evaluateOnNewDocument(() => {
    const seen: string[] = [];
    (window as unknown as { cspViolations: string[] }).cspViolations = seen;
    document.addEventListener('securitypolicyviolation', (e) =>
      seen.push(`${e.violatedDirective} ${e.blockedURI}`),
    );
  });
  return { page, refusals, violations: () => page.evaluate('window.cspViolations') as Promise<string[]> };
}

it('the room page works under the strict policy: a doctor and a patient see each other, nothing is blocked', async () => {
  const room = newRoomId();
  const doctor = await watchedWindow();
  await doctor.page.goto(
    `${t.baseUrl}/app/#token=${await mintFor(t.node, room, 'csp-doc', { role: 'doctor', name: 'Dr. Policy' })}`,
  );
  await waitForProbe(doctor.page, 'window.carecall.joinedAt > 0');
  const patient = await watchedWindow();
  await patient.page.goto(`${t.baseUrl}/app/#token=${await mintFor(t.node, room, 'csp-pat')}`);
  await waitForProbe(patient.page, 'window.carecall.firstRemoteFrameAt > 0');
  await waitForProbe(doctor.page, 'window.carecall.firstRemoteFrameAt > 0');
  const stats = await pageStats(patient.page);
  expect(stats.video.reduce((n, v) => n + v.framesDecoded, 0)).toBeGreaterThan(0);
  // The stylesheet applied (a blocked one would leave the default white body).
  expect(
    await patient.page.evaluate(() => getComputedStyle(document.querySelector('footer')!).display),
  ).not.toBe('block');
  if (SCREENSHOT_DIR) await patient.page.screenshot({ path: join(SCREENSHOT_DIR, 'csp-room.png') });
  for (const w of [doctor, patient]) {
    expect(await w.violations()).toEqual([]);
    expect(w.refusals).toEqual([]);
  }
}, 60_000);

it('the pre-call page runs its checks under the policy (camera, microphone, server, signaling)', async () => {
  const w = await watchedWindow();
  await w.page.goto(`${t.baseUrl}/app/precall.html#token=${await mintFor(t.node, newRoomId(), 'csp-pre')}`);
  await w.page.waitForFunction('window.precall && window.precall.done', { timeout: 15_000 });
  const results = (await w.page.evaluate('window.precall.results')) as { name: string; state: string }[];
  // Every check ran; the server round trip may only warn on a loaded machine (timing, not policy).
  expect(Object.fromEntries(results.map((r) => [r.name, r.state]))).toEqual({
    camera: 'ok',
    microphone: 'ok',
    signaling: 'ok',
    server: expect.stringMatching(/^(ok|warn)$/),
  });
  if (SCREENSHOT_DIR) await w.page.screenshot({ path: join(SCREENSHOT_DIR, 'csp-precall.png') });
  expect(await w.violations()).toEqual([]);
  expect(w.refusals).toEqual([]);
});

it('an inline script injected into the page is refused by the policy (so the policy is really in force)', async () => {
  const w = await watchedWindow();
  await w.page.goto(`${t.baseUrl}/app/precall.html`);
  await w.page.evaluate(() => {
    const s = document.createElement('script');
    s.textContent = 'window.injected = true';
    document.body.append(s);
  });
  expect(await w.page.evaluate('window.injected === true')).toBe(false);
  expect((await w.violations()).some((v) => v.startsWith('script-src'))).toBe(true);
});
