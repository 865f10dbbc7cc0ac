import { existsSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Page } from 'puppeteer-core';
import { launchChromium, openWindow, pageStats, waitForProbe, type Stats } from '../test/helpers/browser.ts';
import { startTestNode } from '../test/helpers/node.ts';
import { mintFor, newRoomId } from '../test/helpers/tokens.ts';

let t: Awaited<ReturnType<typeof startTestNode>>;
let chromium: Awaited<ReturnType<typeof launchChromium>>;

beforeAll(async () => {
  expect(
    existsSync(new URL('./dist/index.html', import.meta.url)),
    'web client is built by scripts/setup.sh',
  ).toBe(true);
  t = await startTestNode();
  chromium = await launchChromium();
});
afterAll(async () => {
  await chromium?.close();
  await t?.node.stop();
});

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const videoFrames = (s: Stats) => sum(s.video.map((v) => v.framesDecoded));
const audioEnergy = (s: Stats) => sum(s.audio.map((a) => a.totalAudioEnergy));
const audioSamples = (s: Stats) => sum(s.audio.map((a) => a.totalSamplesReceived));

async function openParticipant(url: string): Promise<Page> {
  const page = await openWindow(chromium.browser);
  await page.goto(url);
  return page;
}

it('doctor and patient in Chromium see and hear each other through the SFU', async () => {
  const room = newRoomId();
  const doctorToken = await mintFor(t.node, room, 'doc-1', { role: 'doctor', name: 'Dr. Test' });
  const patientToken = await mintFor(t.node, room, 'pat-1');
  const doctor = await openParticipant(`${t.baseUrl}/app/#token=${doctorToken}`);
  await waitForProbe(doctor, 'window.carecall.joinedAt > 0');
  const patient = await openParticipant(`${t.baseUrl}/app/#token=${patientToken}`);

  // The patient joins a room where the doctor already publishes: join -> first rendered remote frame.
  const p = await waitForProbe(patient, 'window.carecall.firstRemoteFrameAt > 0');
  const d = await waitForProbe(doctor, 'window.carecall.firstRemoteFrameAt > 0');
  const joinToFirstFrameMs = Math.round(p.firstRemoteFrameAt - p.joinStartedAt);
  console.log(`join -> first remote frame (patient joining a live room): ${joinToFirstFrameMs} ms`);
  expect(joinToFirstFrameMs).toBeGreaterThan(0);
  expect(d.firstRemoteFrameAt).toBeGreaterThan(0);

  for (const [who, page] of [
    ['patient', patient],
    ['doctor', doctor],
  ] as const) {
    const first = await pageStats(page);
    await new Promise((r) => setTimeout(r, 1500));
    const second = await pageStats(page);
    expect(first.video, `${who} consumes one video`).toHaveLength(1);
    expect(first.audio, `${who} consumes one audio`).toHaveLength(1);
    expect(videoFrames(first), `${who} decodes video`).toBeGreaterThan(0);
    expect(videoFrames(second), `${who} video keeps decoding`).toBeGreaterThan(videoFrames(first) + 10);
    expect(second.video[0]!.frameWidth, `${who} gets real frames`).toBeGreaterThan(0);
    expect(audioSamples(second), `${who} receives audio`).toBeGreaterThan(audioSamples(first));
    expect(audioEnergy(second), `${who} hears sound, not silence`).toBeGreaterThan(audioEnergy(first));
  }
  // The server saw exactly two peers with two producers each.
  const peers = [...t.node.hub.rooms.get(room)!.room.peers.values()];
  expect(peers.map((x) => [x.id, x.producers.size, x.consumers.size]).sort()).toEqual([
    ['doc-1', 2, 2],
    ['pat-1', 2, 2],
  ]);
}, 60_000);
