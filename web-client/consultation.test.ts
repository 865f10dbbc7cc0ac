import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'puppeteer-core';
import { launchChromium, openWindow, pageStats, waitForProbe, type Stats } from '../test/helpers/browser.ts';
import { startTestNode } from '../test/helpers/node.ts';
import { mintFor, newRoomId, patientPerms } from '../test/helpers/tokens.ts';

let t: Awaited<ReturnType<typeof startTestNode>>;
let chromium: Awaited<ReturnType<typeof launchChromium>>;
const pages: Page[] = [];

beforeAll(async () => {
  t = await startTestNode({ SFU_WORKERS: '2' });
  chromium = await launchChromium();
});
afterAll(async () => {
  await chromium?.close();
  await t?.node.stop();
});

const host = {
  role: 'doctor' as const,
  name: 'Dr. Test',
  perms: ['publish', 'subscribe', 'admit', 'moderate'] as const,
};
async function open(room: string, sub: string, over: Record<string, unknown> = {}) {
  const page = await openWindow(chromium.browser);
  pages.push(page);
  await page.goto(`${t.baseUrl}/app/#token=${await mintFor(t.node, room, sub, over as never)}`);
  return page;
}
const frames = (s: Stats, source = 'webcam') =>
  s.video.filter((v) => v.source === source).reduce((a, v) => a + v.framesDecoded, 0);
async function framesGrow(page: Page, source = 'webcam') {
  const before = frames(await pageStats(page), source);
  await new Promise((r) => setTimeout(r, 1000));
  const after = frames(await pageStats(page), source);
  return after - before;
}
const evalIn = <T>(page: Page, js: string) => page.evaluate(js) as Promise<T>;
async function closePages() {
  await Promise.all(pages.splice(0).map((p) => p.close().catch(() => undefined)));
}

describe('waiting room in the browser', () => {
  afterAll(closePages);

  it('the patient knocks, sees no one, the doctor clicks Admit, media flows; a second patient is denied', async () => {
    const room = newRoomId();
    const doctor = await open(room, 'doc', host);
    await waitForProbe(doctor, "window.carecall.status === 'admitted'");
    const patient = await open(room, 'pat', { perms: patientPerms, name: 'Pat' });
    await waitForProbe(patient, "window.carecall.status === 'waiting'");
    expect(await evalIn(patient, 'window.carecall.client.consumers.size')).toBe(0);
    expect(await patient.$eval('#status', (el) => el.textContent)).toContain('Waiting');

    await doctor.waitForSelector('#waiting li[data-peer="pat"] button.admit', { visible: true });
    await doctor.click('#waiting li[data-peer="pat"] button.admit');
    await waitForProbe(patient, 'window.carecall.firstRemoteFrameAt > 0');
    await waitForProbe(doctor, 'window.carecall.firstRemoteFrameAt > 0');
    expect(await framesGrow(patient)).toBeGreaterThan(5);
    expect(await doctor.$eval('#waiting', (el) => (el as HTMLElement).hidden)).toBe(true);

    const intruder = await open(room, 'late', { perms: patientPerms });
    await waitForProbe(intruder, "window.carecall.status === 'waiting'");
    await doctor.waitForSelector('#waiting li[data-peer="late"] button.deny', { visible: true });
    await doctor.click('#waiting li[data-peer="late"] button.deny');
    await waitForProbe(intruder, "window.carecall.status === 'closed:denied'");
    expect(await evalIn(intruder, 'window.carecall.client.consumers.size')).toBe(0);
  });
});

describe('a consultation in progress', () => {
  let room: string;
  let doctor: Page;
  let patient: Page;
  beforeAll(async () => {
    room = newRoomId();
    doctor = await open(room, 'doc', host);
    await waitForProbe(doctor, "window.carecall.status === 'admitted'");
    patient = await open(room, 'pat', { name: 'Pat', perms: ['publish', 'subscribe', 'admit'] });
    await waitForProbe(patient, 'window.carecall.firstRemoteFrameAt > 0');
    await waitForProbe(doctor, 'window.carecall.firstRemoteFrameAt > 0');
  });
  afterAll(closePages);

  it('the doctor mutes the patient: the patient is told and the doctor sees them muted', async () => {
    await evalIn(doctor, "window.carecall.client.muteParticipant('pat', 'mic')");
    await waitForProbe(patient, "window.carecall.events.includes('mutedBy:mic')");
    expect(await patient.$eval('#toggle-mic', (el) => el.textContent)).toBe('Unmute');
    await doctor.waitForSelector('#tile-pat.muted');
    // Read afresh each time: the SFU hands out snapshots of its producers, not live objects.
    const mic = () => t.node.hub.rooms.get(room)!.room.peers.get('pat')!.producersBySource('mic');
    expect(mic().every((p) => p.paused)).toBe(true);
    // The patient unmutes themselves; the doctor sees it.
    await patient.click('#toggle-mic');
    await doctor.waitForSelector('#tile-pat:not(.muted)');
    expect(mic().every((p) => !p.paused)).toBe(true);
  });

  it("screen share: the doctor sees the patient's shared screen", async () => {
    await patient.click('#share-screen');
    await patient.waitForFunction("document.querySelector('#share-screen').textContent === 'Stop sharing'", {
      timeout: 10_000,
    });
    await doctor.waitForFunction(
      "window.carecall.stats().then(s => s.video.some(v => v.source === 'screen' && v.framesDecoded > 0))",
      { timeout: 10_000, polling: 200 },
    );
    expect(await framesGrow(doctor, 'screen')).toBeGreaterThan(0);
    await patient.click('#share-screen');
  });

  it('simulcast: the receiver picks the layer and the decoded size follows', async () => {
    const consumerId = await evalIn<string>(
      doctor,
      "window.carecall.stats().then(s => s.video.find(v => v.source === 'webcam').consumerId)",
    );
    const widthAt = async (layer: number) => {
      await evalIn(doctor, `window.carecall.client.setPreferredLayer('${consumerId}', ${layer})`);
      await doctor.waitForFunction(`window.carecall.events.includes('layers:${consumerId}:${layer}')`, {
        timeout: 15_000,
        polling: 100,
      });
      await new Promise((r) => setTimeout(r, 1500));
      return (await pageStats(doctor)).video.find((v) => v.consumerId === consumerId)!.frameWidth;
    };
    const low = await widthAt(0);
    const high = await widthAt(1);
    console.log(`simulcast frame width: layer 0 -> ${low}px, layer 1 -> ${high}px`);
    expect(low).toBeLessThanOrEqual(320);
    expect(high).toBeGreaterThan(low);
  });

  it('a dropped WebSocket resumes the same session without rejoining, and nothing sent meanwhile is lost', async () => {
    const recvBefore = await evalIn<string>(patient, 'window.carecall.client.recvTransport.id');
    await evalIn(patient, 'window.carecall.client.signaling.drop()');
    // Sent while the patient's socket is down: must be replayed on resume.
    await evalIn(doctor, "window.carecall.client.setPaused('mic', true)");
    await waitForProbe(patient, "window.carecall.events.includes('connection:resumed')");
    await patient.waitForSelector('#tile-doc.muted');
    const events = await evalIn<string[]>(patient, 'window.carecall.events');
    expect(events).not.toContain('connection:rejoined');
    expect(await evalIn<string>(patient, 'window.carecall.client.recvTransport.id')).toBe(recvBefore);
    expect([...t.node.hub.rooms.get(room)!.room.peers.keys()].sort()).toEqual(['doc', 'pat']);
    expect(await framesGrow(patient)).toBeGreaterThan(5);
    await evalIn(doctor, "window.carecall.client.setPaused('mic', false)");
  });

  it('ICE restart: new credentials, frames keep increasing', async () => {
    const transport = [...t.node.hub.rooms.get(room)!.room.peers.get('pat')!.transports.values()][0]!;
    const ufrag = transport.iceParameters.usernameFragment;
    await evalIn(patient, 'window.carecall.client.restartIce()');
    expect(transport.iceParameters.usernameFragment).not.toBe(ufrag);
    await new Promise((r) => setTimeout(r, 500));
    expect(await framesGrow(patient)).toBeGreaterThan(5);
    expect(await framesGrow(doctor)).toBeGreaterThan(5);
  });

  it("active speaker: the room says who is speaking (Chromium's fake microphone beeps) and the tile shows it", async () => {
    await doctor.waitForFunction(
      "window.carecall.events.some(e => e === 'activeSpeaker:pat' || e === 'activeSpeaker:doc')",
      { timeout: 15_000, polling: 200 },
    );
    await doctor.waitForSelector('.tile.speaking', { timeout: 5_000 });
  });

  it('network quality of both participants, from real stats, reaches each page', async () => {
    // Loopback links are good; a loaded CI machine can lose a moment's packets, so one bad 2 s sample
    // may pass before both participants settle: wait for the settled report rather than the first.
    await doctor.waitForFunction(
      `['doc','pat'].every(id => window.carecall.quality.some(q => q.peerId === id && q.rttMs !== null
        && ['excellent','good'].includes(q.quality) && q.uplink >= 7 && q.rttMs < 150))`,
      { timeout: 20_000, polling: 200 },
    );
    const quality = await evalIn<{ peerId: string; quality: string; uplink: number | null; rttMs: number }[]>(
      doctor,
      'window.carecall.quality',
    );
    for (const q of quality) {
      expect(['excellent', 'good']).toContain(q.quality);
      expect(q.uplink).toBeGreaterThanOrEqual(7);
      expect(q.rttMs).toBeLessThan(150);
    }
    expect(await doctor.$eval('#tile-pat .quality', (el) => el.textContent)).toMatch(/excellent|good/);
  });

  it("kill -9 of the room's media worker: media is back within 3 s", async () => {
    const hubRoom = t.node.hub.rooms.get(room)!;
    const pid = t.node.pool.workers[hubRoom.room.workerIndex]!.worker.pid;
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    const back = async (page: Page) => {
      await waitForProbe(page, "window.carecall.events.includes('mediaReset')");
      await page.waitForFunction(
        "window.carecall.stats().then(s => s.video.some(v => v.source === 'webcam' && v.framesDecoded > 0))",
        { timeout: 10_000, polling: 50 },
      );
      return Date.now() - killedAt;
    };
    const [d, p] = await Promise.all([back(doctor), back(patient)]);
    console.log(`worker kill -9 -> video decoding again: doctor ${d} ms, patient ${p} ms`);
    expect(Math.max(d, p)).toBeLessThan(3000);
    expect(await framesGrow(patient)).toBeGreaterThan(5);
  });
});
