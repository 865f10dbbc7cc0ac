import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchChromium, openWindow, waitForProbe } from '../test/helpers/browser.ts';
import { startTestNode } from '../test/helpers/node.ts';
import { mintFor, newRoomId } from '../test/helpers/tokens.ts';

// Switching camera, microphone and speaker mid-call: the producer stays, its track changes, and
// the other side keeps decoding across the switch (no renegotiation, no new consumer).
let t: Awaited<ReturnType<typeof startTestNode>>;
let chromium: Awaited<ReturnType<typeof launchChromium>>;
let room: string;
let a: Page;
let b: Page;

beforeAll(async () => {
  t = await startTestNode();
  // Chromium's second fake camera delivers 16-bit depth frames, which render but are never encoded;
  // the third is an MJPEG camera like a real webcam: switch between the first and the third.
  chromium = await launchChromium({ fakeCameras: 3 });
  room = newRoomId();
  const pages: Page[] = [];
  for (const sub of ['a', 'b']) {
    const page = await openWindow(chromium.browser);
    await page.goto(`${t.baseUrl}/app/#token=${await mintFor(t.node, room, sub)}`);
    pages.push(page);
  }
  [a, b] = pages as [Page, Page];
  for (const page of pages) await waitForProbe(page, 'window.carecall.firstRemoteFrameAt > 0');
  await waitForProbe(b, 'window.carecall.client.consumers.size === 2');
});
afterAll(async () => {
  await chromium?.close();
  await t?.node.stop();
});

const evalIn = <T>(page: Page, js: string) => page.evaluate(js) as Promise<T>;
const devices = (page: Page, kind: MediaDeviceKind) =>
  evalIn<string[]>(
    page,
    `navigator.mediaDevices.enumerateDevices().then(d => d.filter(x => x.kind === '${kind}' && x.label !== 'fake_device_1').map(x => x.deviceId))`,
  );
const publishedDevice = (page: Page, source: string) =>
  evalIn<string>(page, `window.carecall.client.published.get('${source}').track.getSettings().deviceId`);
const serverProducers = (source: string) =>
  t.node.hub.rooms
    .get(room)!
    .room.peers.get('a')!
    .producersBySource(source as never)
    .map((p) => p.producerId);

/** Samples one inbound counter of b's every 100 ms while `during` runs, then 2 s more. */
async function sampleAcross(counter: string, during: () => Promise<unknown>) {
  await b.evaluate(`window.__samples = []; window.__sampler = setInterval(async () => {
    const s = await window.carecall.stats(); window.__samples.push([performance.now(), ${counter}]);
  }, 100)`);
  await new Promise((r) => setTimeout(r, 1000));
  await during();
  await new Promise((r) => setTimeout(r, 2000));
  const samples = await evalIn<[number, number][]>(b, 'clearInterval(window.__sampler), window.__samples');
  // The longest time the counter stood still, in ms.
  let stalled = 0;
  let since = samples[0]![0];
  for (let i = 1; i < samples.length; i++) {
    if (samples[i]![1] > samples[i - 1]![1]) since = samples[i]![0];
    stalled = Math.max(stalled, samples[i]![0] - since);
  }
  return { stalledMs: stalled, rise: samples.at(-1)![1] - samples[0]![1] };
}

it('camera switch mid-call: same producer, new device, the other side keeps decoding', async () => {
  const cameras = await devices(a, 'videoinput');
  expect(cameras).toHaveLength(2);
  const before = await publishedDevice(a, 'webcam');
  const other = cameras.find((id) => id !== before)!;
  const producersBefore = serverProducers('webcam');
  const consumersBefore = await evalIn<string[]>(b, '[...window.carecall.client.consumers.keys()]');
  const frames = "s.video.find(v => v.source === 'webcam').framesDecoded";
  const { stalledMs, rise } = await sampleAcross(frames, () =>
    evalIn(a, `window.carecall.client.switchDevice('videoinput', '${other}')`),
  );
  console.log(`camera switch: remote frames +${rise} over ~3 s, longest stall ${Math.round(stalledMs)} ms`);
  expect(await publishedDevice(a, 'webcam')).toBe(other);
  expect(serverProducers('webcam')).toEqual(producersBefore);
  expect(await evalIn<string[]>(b, '[...window.carecall.client.consumers.keys()]')).toEqual(consumersBefore);
  expect(rise).toBeGreaterThan(45);
  expect(stalledMs).toBeLessThan(600);
  // The self view shows the new camera; the old one is released.
  expect(
    await evalIn(
      a,
      "document.querySelector('#tile-local video').srcObject.getVideoTracks()[0].getSettings().deviceId",
    ),
  ).toBe(other);
  expect(await evalIn(a, "window.carecall.events.includes('localTrack:webcam')")).toBe(true);
});

it('microphone switch mid-call: same producer, the other side keeps receiving audio; mute carries over', async () => {
  const mics = (await devices(a, 'audioinput')).filter((id) => id !== 'default');
  const target = mics[0]!;
  const producersBefore = serverProducers('mic');
  const samples = 's.audio.reduce((n, x) => n + x.totalSamplesReceived, 0)';
  const { stalledMs, rise } = await sampleAcross(samples, () =>
    evalIn(a, `window.carecall.client.switchDevice('audioinput', '${target}')`),
  );
  console.log(`microphone switch: remote samples +${rise}, longest stall ${Math.round(stalledMs)} ms`);
  expect(await publishedDevice(a, 'mic')).toBe(target);
  expect(serverProducers('mic')).toEqual(producersBefore);
  expect(rise).toBeGreaterThan(48_000 * 2);
  expect(stalledMs).toBeLessThan(600);

  // Muted (track disabled by the producer's pause), switched, still muted.
  await evalIn(a, "window.carecall.client.setPaused('mic', true)");
  await evalIn(a, `window.carecall.client.switchDevice('audioinput', '${mics[1]}')`);
  expect(await evalIn(a, "window.carecall.client.isPaused('mic')")).toBe(true);
  expect(t.node.hub.rooms.get(room)!.room.peers.get('a')!.producersBySource('mic')[0]!.paused).toBe(true);
  await evalIn(a, "window.carecall.client.setPaused('mic', false)");
});

it('speaker output: every remote audio element plays on the chosen device', async () => {
  const outputs = (await devices(b, 'audiooutput')).filter((id) => id !== 'default');
  await evalIn(b, `window.carecall.client.switchDevice('audiooutput', '${outputs[1]}')`);
  const sinks = await evalIn<string[]>(b, "[...document.querySelectorAll('audio')].map(el => el.sinkId)");
  expect(sinks.length).toBeGreaterThan(0);
  expect(new Set(sinks)).toEqual(new Set([outputs[1]]));
  // An element attached later (someone joins) gets the same output.
  const late = await evalIn<string>(
    b,
    `(async () => { const el = document.createElement('audio'); window.carecall.client.attachAudioOutput(el);
    for (let i = 0; i < 20 && el.sinkId !== '${outputs[1]}'; i++) await new Promise(r => setTimeout(r, 25)); return el.sinkId; })()`,
  );
  expect(late).toBe(outputs[1]);
});

it('the pre-call choice is used at start; an unknown device is refused, not silently replaced', async () => {
  const cameras = await devices(a, 'videoinput');
  const mics = (await devices(a, 'audioinput')).filter((id) => id !== 'default');
  const opened = await evalIn<string[]>(
    a,
    `window.carecall.client.openLocalMedia({ cameraId: '${cameras[1]}', microphoneId: '${mics[1]}' }).then(s => {
      const ids = s.getTracks().map(t => t.kind + ':' + t.getSettings().deviceId); s.getTracks().forEach(t => t.stop()); return ids.sort(); })`,
  );
  expect(opened).toEqual([`audio:${mics[1]}`, `video:${cameras[1]}`]);
  const refused = await evalIn<string>(
    a,
    "window.carecall.client.switchDevice('videoinput', 'no-such-camera').then(() => 'switched', e => e.name)",
  );
  expect(refused).toBe('OverconstrainedError');
  // The call goes on with the camera it had.
  expect(cameras).toContain(await publishedDevice(a, 'webcam'));
});
