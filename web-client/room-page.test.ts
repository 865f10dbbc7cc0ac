import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'puppeteer-core';
import { launchChromium, openWindow, pageStats, waitForProbe, type Stats } from '../test/helpers/browser.ts';
import { startTestNode } from '../test/helpers/node.ts';
import { mintFor, newRoomId, patientPerms } from '../test/helpers/tokens.ts';

// The room and pre-call pages as a person meets them: layout, devices, rejoin, language, accessibility.
let t: Awaited<ReturnType<typeof startTestNode>>;
let chromium: Awaited<ReturnType<typeof launchChromium>>;
const pages: Page[] = [];
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
beforeAll(async () => {
  t = await startTestNode({ DEMO: 'on' });
  // Chromium's second fake camera sends 16-bit frames that are never encoded: switch between the first and third.
  chromium = await launchChromium({ fakeCameras: 3 });
});
afterAll(async () => {
  await chromium?.close();
  await t?.node.stop();
});
afterEach(async () => {
  await Promise.all(pages.splice(0).map((p) => p.close().catch(() => undefined)));
});

const doctorClaims = {
  role: 'doctor' as const,
  name: 'Dr. Test',
  perms: ['publish', 'subscribe', 'admit', 'moderate'] as never,
};
const patientClaims = { role: 'patient' as const, name: 'Pat Test', perms: patientPerms };
async function open(
  room: string,
  sub: string,
  over: object,
  viewport = { width: 1280, height: 720 },
  query = '',
) {
  const page = await openWindow(chromium.browser);
  pages.push(page);
  await page.setViewport(viewport);
  await page.goto(`${t.baseUrl}/app/${query}#token=${await mintFor(t.node, room, sub, over as never)}`);
  return page;
}
const evalIn = <T>(page: Page, js: string) => page.evaluate(js) as Promise<T>;
const frames = (s: Stats) => s.video.reduce((a, v) => a + v.framesDecoded, 0);
async function decoding(page: Page, windowMs = 1000) {
  const before = frames(await pageStats(page));
  await new Promise((r) => setTimeout(r, windowMs));
  return frames(await pageStats(page)) - before;
}

/** Every button of the bar lies inside the viewport (nothing below the fold). */
async function barVisible(page: Page) {
  return page.evaluate(() => {
    const buttons = [...document.querySelectorAll<HTMLElement>('#controls button')];
    return {
      count: buttons.length,
      offscreen: buttons
        .filter((b) => {
          const r = b.getBoundingClientRect();
          return r.bottom > innerHeight || r.right > innerWidth || r.top < 0 || r.left < 0 || r.height === 0;
        })
        .map((b) => b.id),
    };
  });
}

async function axe(page: Page) {
  // Evaluated over the DevTools protocol: a <script> tag would be refused by the page's CSP, rightly.
  await page.evaluate(AXE_SOURCE);
  const violations = (await page.evaluate(async () => {
    const result = await (
      window as unknown as {
        axe: {
          run: (
            ctx: Document,
            o: object,
          ) => Promise<{ violations: { id: string; impact: string; nodes: unknown[] }[] }>;
        };
      }
    ).axe.run(document, {
      resultTypes: ['violations'],
    });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length }));
  })) as { id: string; impact: string }[];
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

describe('layout', () => {
  for (const viewport of [
    { width: 1280, height: 720 },
    { width: 1366, height: 768 },
    { width: 390, height: 844, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
  ]) {
    it(`the button bar is on screen at ${viewport.width}x${viewport.height}: a patient waiting, the doctor alone, both in call`, async () => {
      const room = newRoomId();
      const doctor = await open(room, 'doc', doctorClaims, viewport);
      await waitForProbe(doctor, "window.carecall.status === 'admitted'");
      expect(await barVisible(doctor)).toMatchObject({ offscreen: [] });
      const patient = await open(room, 'pat', patientClaims, viewport);
      await waitForProbe(patient, "window.carecall.status === 'waiting'");
      await patient.waitForSelector('#waiting-status .position');
      expect(await barVisible(patient)).toMatchObject({ offscreen: [] });
      await doctor.waitForSelector('#waiting li[data-peer="pat"] button.admit', { visible: true });
      await doctor.click('#waiting li[data-peer="pat"] button.admit');
      await waitForProbe(patient, 'window.carecall.firstRemoteFrameAt > 0');
      for (const page of [doctor, patient]) expect(await barVisible(page)).toMatchObject({ offscreen: [] });
    });
  }
});

describe('in the call', () => {
  it('switching camera from the device menu keeps the other side decoding; M and V toggle mic and camera', async () => {
    const room = newRoomId();
    const a = await open(room, 'a', doctorClaims);
    await waitForProbe(a, "window.carecall.status === 'admitted'");
    const b = await open(room, 'b', { ...doctorClaims, name: 'Dr. B' });
    await waitForProbe(b, 'window.carecall.firstRemoteFrameAt > 0');
    await waitForProbe(a, 'window.carecall.firstRemoteFrameAt > 0');
    await a.click('#devices');
    await a.waitForSelector('#device-camera');
    const focused = await evalIn<string>(a, 'document.activeElement.id');
    expect(focused).toBe('device-camera');
    const cameras = await evalIn<string[]>(
      a,
      "[...document.querySelectorAll('#device-camera option')].filter(o => o.textContent !== 'fake_device_1').map(o => o.value)",
    );
    expect(cameras.length).toBe(2);
    const current = await evalIn<string>(
      a,
      "window.carecall.client.published.get('webcam').track.getSettings().deviceId",
    );
    const other = cameras.find((c) => c !== current)!;
    const consumersBefore = await evalIn<string[]>(b, '[...window.carecall.client.consumers.keys()]');
    await a.select('#device-camera', other);
    await a.waitForFunction(
      `window.carecall.client.published.get('webcam').track.getSettings().deviceId === '${other}'`,
    );
    // The new camera's first frames take a moment (the encoder restarts low; seconds when CI loads both
    // cores): wait for the first of them, then the same consumer decodes on at a steady rate.
    const switchedAt = frames(await pageStats(b));
    for (let waited = 0; frames(await pageStats(b)) <= switchedAt + 1 && waited < 10_000; waited += 250)
      await new Promise((r) => setTimeout(r, 250));
    expect(await decoding(b, 2000)).toBeGreaterThan(10);
    expect(await evalIn<string[]>(b, '[...window.carecall.client.consumers.keys()]')).toEqual(
      consumersBefore,
    );
    // Escape closes the menu and gives focus back to its button.
    await a.keyboard.press('Escape');
    await a.waitForSelector('#devices-menu', { hidden: true });
    expect(await evalIn<string>(a, 'document.activeElement.id')).toBe('devices');

    expect(await a.$eval('#toggle-mic', (el) => el.getAttribute('aria-keyshortcuts'))).toBe('M');
    await a.keyboard.press('m');
    await a.waitForFunction("window.carecall.client.isPaused('mic') === true");
    await b.waitForSelector('#tile-a.muted');
    await a.keyboard.press('v');
    await a.waitForFunction("window.carecall.client.isPaused('webcam') === true");
    await a.keyboard.press('v');
    await a.waitForFunction("window.carecall.client.isPaused('webcam') === false");
  });

  it('the other person leaving is announced; Leave then Rejoin brings the call back', async () => {
    const room = newRoomId();
    const a = await open(room, 'a', doctorClaims);
    await waitForProbe(a, "window.carecall.status === 'admitted'");
    const b = await open(room, 'b', { ...doctorClaims, name: 'Dr. B' });
    await waitForProbe(b, 'window.carecall.firstRemoteFrameAt > 0');
    await a.waitForSelector('#call-timer');
    await b.click('#leave');
    await waitForProbe(b, "window.carecall.status === 'left'");
    await a.waitForSelector('[data-banner="banner.otherLeft"]');
    expect(await a.$eval('[data-banner="banner.otherLeft"]', (el) => el.textContent)).toContain('Dr. B left');
    // Everything but Rejoin is off after leaving.
    expect(
      await evalIn<boolean>(
        b,
        "['toggle-mic','toggle-cam','share-screen'].every(id => document.getElementById(id).disabled)",
      ),
    ).toBe(true);
    await evalIn(b, 'window.carecall.firstRemoteFrameAt = 0');
    await evalIn(a, 'window.carecall.firstRemoteFrameAt = 0');
    await b.click('#rejoin');
    await waitForProbe(b, 'window.carecall.firstRemoteFrameAt > 0');
    // Each side shows the other's first frame before the rate is measured: on a loaded machine the
    // rejoined camera can reach the other page well after the rejoining page sees its first frame.
    await waitForProbe(a, 'window.carecall.firstRemoteFrameAt > 0');
    expect(await decoding(a)).toBeGreaterThan(5);
  });

  it('speaker view, grid and full screen of a tile', async () => {
    const room = newRoomId();
    const a = await open(room, 'a', doctorClaims);
    await waitForProbe(a, "window.carecall.status === 'admitted'");
    const b = await open(room, 'b', { ...doctorClaims, name: 'Dr. B' });
    await waitForProbe(a, 'window.carecall.firstRemoteFrameAt > 0');
    await a.click('#layout');
    await a.waitForSelector('#stage.layout-speaker #tile-b.main');
    await a.click('#tile-b button.fullscreen');
    await a.waitForFunction("document.fullscreenElement && document.fullscreenElement.id === 'tile-b'");
    await evalIn(a, 'document.exitFullscreen()');
    await a.click('#layout');
    await a.waitForSelector('#stage.layout-grid');
    // The self view moves when dragged.
    const box = (await (await a.$('#tile-local'))!.boundingBox())!;
    await a.mouse.move(box.x + 20, box.y + 20);
    await a.mouse.down();
    await a.mouse.move(box.x - 200, box.y - 150, { steps: 5 });
    await a.mouse.up();
    const moved = (await (await a.$('#tile-local'))!.boundingBox())!;
    expect(box.x - moved.x).toBeGreaterThan(150);
    expect(b).toBeDefined();
  });
});

describe('pages, language, accessibility', () => {
  it('the first printed demo link opens the pre-call check, whose Join carries the chosen camera into the call', async () => {
    const links = t.node.demoLinks()!;
    const page = await openWindow(chromium.browser);
    pages.push(page);
    const missing: string[] = [];
    page.on('response', (r) => r.status() >= 400 && missing.push(`${r.status()} ${r.url()}`));
    await page.goto(links.doctor.replace(/^http:\/\/[^/]+/, t.baseUrl));
    expect(new URL(page.url()).pathname).toBe('/app/precall.html');
    await page.waitForFunction('window.precall && window.precall.done', { timeout: 15_000 });
    const cameras = await evalIn<string[]>(
      page,
      "[...document.querySelectorAll('#camera option')].filter(o => o.textContent !== 'fake_device_1').map(o => o.value)",
    );
    const chosen = cameras[1]!;
    await page.select('#camera', chosen);
    await page.waitForFunction(`document.querySelector('#join').getAttribute('href').includes('cam=')`);
    await Promise.all([page.waitForNavigation(), page.click('#join')]);
    await waitForProbe(page, "window.carecall.status === 'admitted'");
    expect(await evalIn(page, "window.carecall.client.devices.track('webcam').getSettings().deviceId")).toBe(
      chosen,
    );
    const icon = await fetch(`${t.baseUrl}/favicon.ico`);
    expect(icon.status).toBe(200);
    expect(missing).toEqual([]);
  });

  it('?lang=de shows the German catalogue; the browser language picks it too', async () => {
    const room = newRoomId();
    const page = await open(room, 'doc', doctorClaims, undefined, '?lang=de');
    await waitForProbe(page, "window.carecall.status === 'admitted'");
    expect(await page.$eval('#leave', (el) => el.textContent)).toBe('Verlassen');
    expect(await page.$eval('html', (el) => el.lang)).toBe('de');
    const page2 = await openWindow(chromium.browser);
    pages.push(page2);
    await page2.evaluateOnNewDocument(() =>
      Object.defineProperty(navigator, 'languages', { get: () => ['de-AT', 'en'] }),
    );
    await page2.goto(`${t.baseUrl}/app/precall.html`);
    await page2.waitForFunction('window.precall && window.precall.done', { timeout: 15_000 });
    expect(await page2.$eval('#test-speaker', (el) => el.textContent)).toBe('Testton abspielen');
  });

  it('axe-core finds no serious or critical violation on the room (host and waiting patient) and the pre-call page', async () => {
    const room = newRoomId();
    const doctor = await open(room, 'doc', doctorClaims);
    await waitForProbe(doctor, "window.carecall.status === 'admitted'");
    const patient = await open(room, 'pat', patientClaims);
    await waitForProbe(patient, "window.carecall.status === 'waiting'");
    await doctor.waitForSelector('#waiting li[data-peer="pat"]', { visible: true });
    await doctor.click('#participants-toggle');
    await doctor.waitForSelector('#participants li');
    expect(await axe(doctor)).toEqual([]);
    await patient.waitForSelector('#waiting-status .position');
    expect(await axe(patient)).toEqual([]);
    const precall = await openWindow(chromium.browser);
    pages.push(precall);
    await precall.goto(`${t.baseUrl}/app/precall.html#token=${await mintFor(t.node, newRoomId(), 'pre')}`);
    await precall.waitForFunction('window.precall && window.precall.done', { timeout: 15_000 });
    expect(await axe(precall)).toEqual([]);
  });
});
