import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'puppeteer-core';
import { launchChromium, openWindow, pageStats, waitForProbe, type Stats } from '../test/helpers/browser.ts';
import { startTestNode } from '../test/helpers/node.ts';
import { mintFor, newRoomId, patientPerms } from '../test/helpers/tokens.ts';

// The host's controls as a doctor uses them, and what the patient's page does in answer.
let t: Awaited<ReturnType<typeof startTestNode>>;
let chromium: Awaited<ReturnType<typeof launchChromium>>;
const pages: Page[] = [];
beforeAll(async () => {
  t = await startTestNode();
  chromium = await launchChromium();
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
async function open(room: string, sub: string, over: object) {
  const page = await openWindow(chromium.browser);
  pages.push(page);
  await page.goto(`${t.baseUrl}/app/#token=${await mintFor(t.node, room, sub, over as never)}`);
  return page;
}
const evalIn = <T>(page: Page, js: string) => page.evaluate(js) as Promise<T>;
const frames = (s: Stats) => s.video.reduce((a, v) => a + v.framesDecoded, 0);
/** Remembers the page's own camera track now, to check later that it was stopped. */
const holdCamera = (page: Page) =>
  evalIn(page, "window.__cam = window.carecall.client.devices.track('webcam'); window.__cam.readyState");
const cameraState = (page: Page) => evalIn<string>(page, 'window.__cam.readyState');

/** Doctor in the room, patient admitted by a click on Admit, media flowing both ways. */
async function call() {
  const room = newRoomId();
  const doctor = await open(room, 'doc', doctorClaims);
  await waitForProbe(doctor, "window.carecall.status === 'admitted'");
  const patient = await open(room, 'pat', patientClaims);
  await waitForProbe(patient, "window.carecall.status === 'waiting'");
  await doctor.waitForSelector('#waiting li[data-peer="pat"] button.admit', { visible: true });
  await doctor.click('#waiting li[data-peer="pat"] button.admit');
  await waitForProbe(patient, 'window.carecall.firstRemoteFrameAt > 0');
  await waitForProbe(doctor, 'window.carecall.firstRemoteFrameAt > 0');
  return { room, doctor, patient };
}

describe('waiting room', () => {
  it('the waiting patient sees waited time, place in line and the doctor’s note; Leave works while waiting', async () => {
    const room = newRoomId();
    const doctor = await open(room, 'doc', doctorClaims);
    await waitForProbe(doctor, "window.carecall.status === 'admitted'");
    const patient = await open(room, 'pat', patientClaims);
    await waitForProbe(patient, "window.carecall.status === 'waiting'");
    await patient.waitForSelector('#waiting-status .position[data-position="1"]');
    expect(await patient.$eval('#waiting-status .notified', (el) => el.className)).toContain('yes');
    const waited = () =>
      patient.$eval('#waiting-status .waited', (el) => Number((el as HTMLElement).dataset.waitedMs));
    const first = await waited();
    await new Promise((r) => setTimeout(r, 1500));
    expect(await waited()).toBeGreaterThan(first + 900);
    // The knock reached the doctor with a sound.
    await waitForProbe(doctor, "window.carecall.events.includes('knock')");

    await doctor.click('#waiting .preset');
    await patient.waitForSelector('#host-message');
    expect(await patient.$eval('#host-message', (el) => el.textContent)).toContain('5 more minutes');
    await doctor.type('#waiting-message', 'Almost there');
    await doctor.click('#waiting-send');
    await patient.waitForFunction(
      "document.querySelector('#host-message').textContent.includes('Almost there')",
    );

    await holdCamera(patient);
    expect(await patient.$eval('#leave', (el) => (el as HTMLButtonElement).disabled)).toBe(false);
    await patient.click('#leave');
    await waitForProbe(patient, "window.carecall.status === 'left'");
    expect(await cameraState(patient)).toBe('ended');
    await doctor.waitForSelector('#waiting', { hidden: true });
  });

  it('a denied patient’s camera is stopped and the page says why', async () => {
    const room = newRoomId();
    const doctor = await open(room, 'doc', doctorClaims);
    await waitForProbe(doctor, "window.carecall.status === 'admitted'");
    const patient = await open(room, 'pat', patientClaims);
    await waitForProbe(patient, "window.carecall.status === 'waiting'");
    expect(await holdCamera(patient)).toBe('live');
    await doctor.waitForSelector('#waiting li[data-peer="pat"] button.deny', { visible: true });
    await doctor.click('#waiting li[data-peer="pat"] button.deny');
    await waitForProbe(patient, "window.carecall.status === 'closed:denied'");
    expect(await cameraState(patient)).toBe('ended');
    await patient.waitForSelector('[data-banner="banner.denied"]');
  });
});

describe('participant list and host controls', () => {
  it('the list shows roles and mute state; the doctor mutes the patient, who is told and unmutes', async () => {
    const { doctor, patient } = await call();
    await doctor.click('#participants-toggle');
    await doctor.waitForSelector('#participants li[data-peer="pat"][data-mic="live"]');
    expect(await doctor.$eval('#participants li[data-peer="pat"] .role', (el) => el.textContent)).toBe(
      'Patient',
    );
    expect(await doctor.$eval('#participants li[data-peer="doc"] .role', (el) => el.textContent)).toContain(
      'Host',
    );
    // The patient has no host controls.
    await patient.click('#participants-toggle');
    await patient.waitForSelector('#participants li[data-peer="doc"]');
    expect(await patient.$$('#participants button.mute-mic')).toHaveLength(0);

    await doctor.click('#participants li[data-peer="pat"] button.mute-mic');
    await waitForProbe(patient, "window.carecall.events.includes('mutedBy:mic')");
    await patient.waitForSelector('[data-banner="banner.mutedByHost"]');
    expect(await patient.$eval('#toggle-mic', (el) => el.textContent)).toBe('Unmute');
    await doctor.waitForSelector('#participants li[data-peer="pat"][data-mic="muted"]');
    await doctor.waitForSelector('#tile-pat.muted');
    await patient.click('#toggle-mic');
    await doctor.waitForSelector('#participants li[data-peer="pat"][data-mic="live"]');

    // Camera off by the host: the patient cannot turn it back on until the host allows it.
    await doctor.click('#participants li[data-peer="pat"] button.stop-camera');
    await doctor.waitForSelector('#participants li[data-peer="pat"][data-webcam="muted_by_host"]');
    await patient.waitForSelector('#toggle-cam:disabled');
    await doctor.click('#participants li[data-peer="pat"] button.allow-camera');
    await patient.waitForSelector('#toggle-cam:not(:disabled)');
    await patient.click('#toggle-cam');
    await doctor.waitForSelector('#participants li[data-peer="pat"][data-webcam="live"]');
  });

  it('remove: the patient’s page says so, its camera stops, and its Rejoin is refused', async () => {
    const { doctor, patient } = await call();
    await holdCamera(patient);
    await doctor.click('#participants-toggle');
    await doctor.click('#participants li[data-peer="pat"] button.remove');
    await doctor.click('#participants li[data-peer="pat"] button.remove-confirm');
    await waitForProbe(patient, "window.carecall.status === 'closed:removed_by_host'");
    await patient.waitForSelector('[data-banner="banner.removed"]');
    expect(await cameraState(patient)).toBe('ended');
    expect(await patient.$('#rejoin')).toBeNull();
    await doctor.waitForSelector('[data-banner="banner.otherLeft"]');
    await doctor.waitForFunction("!document.querySelector('#tile-pat')");
  });

  it('end for everyone closes every page’s media', async () => {
    const { doctor, patient } = await call();
    await holdCamera(patient);
    await holdCamera(doctor);
    expect(frames(await pageStats(doctor))).toBeGreaterThan(0);
    await doctor.click('#end-all');
    await doctor.click('#end-all-confirm');
    for (const page of [doctor, patient]) {
      await waitForProbe(page, "window.carecall.status === 'closed:ended_by_host'");
      expect(await cameraState(page)).toBe('ended');
      expect(await evalIn(page, 'window.carecall.client.consumers.size')).toBe(0);
      expect(
        await evalIn(
          page,
          "document.querySelectorAll('video').length === 0 || [...document.querySelectorAll('video')].every(v => !v.srcObject || v.srcObject.getTracks().every(t => t.readyState === 'ended'))",
        ),
      ).toBe(true);
      await page.waitForSelector('[data-banner="banner.ended"]');
    }
  });
});
