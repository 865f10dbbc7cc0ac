import WebSocket from 'ws';
import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaStreamTrack } from 'werift';
import { Chrome111 } from 'mediasoup-client/handlers/Chrome111';
import { createBotDevice, removeBotPolyfill } from '../loadtests/sfu/werift-env.ts';
import { launchChromium, openWindow, waitForProbe } from '../test/helpers/browser.ts';
import { startTestNode } from '../test/helpers/node.ts';
import { mintFor, newRoomId, patientPerms } from '../test/helpers/tokens.ts';
import { RoomClient } from './src/room-client.ts';

// A patient admitted from the waiting room publishes mic and webcam while the admission itself
// re-publishes what is registered: each source must reach the server exactly once, every time.
const BOT_ROUNDS = 40;
const BROWSER_ROUNDS = 15;

let t: Awaited<ReturnType<typeof startTestNode>>;
beforeAll(async () => {
  t = await startTestNode();
});
afterAll(async () => {
  removeBotPolyfill();
  await t?.node.stop();
});

const doctorClaims = {
  role: 'doctor' as const,
  perms: ['publish', 'subscribe', 'admit', 'moderate'] as never,
};

/** Every producer the room ever created, per peer and source (a refused produce creates none). */
function countProducers(room: string) {
  const counts = new Map<string, number>();
  t.node.hub.rooms.get(room)!.room.on('newProducer', (peer, producer) => {
    const key = `${peer.id}:${producer.source}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  });
  return counts;
}
const liveSources = (room: string, peerId: string) =>
  [...(t.node.hub.rooms.get(room)!.room.peers.get(peerId)?.producers.values() ?? [])]
    .map((p) => String(p.appData.source))
    .sort();

async function until(what: string, predicate: () => boolean, timeoutMs = 10_000) {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('one producer per source after admission from the waiting room', () => {
  it(`${BOT_ROUNDS} patients (mediasoup-client on werift) knock, are admitted and publish mic + webcam: one producer each`, async () => {
    await createBotDevice(); // installs the RTCPeerConnection polyfill mediasoup-client's handler uses
    const bot = async (sub: string, room: string, over: Record<string, unknown>, errors: string[]) => {
      const client = new RoomClient({
        signalingUrl: t.wsUrl,
        token: await mintFor(t.node, room, sub, over),
        createSocket: (url, protocols) => new WebSocket(url, protocols) as never,
        handlerFactory: Chrome111.createFactory(),
        simulcast: false,
        statsIntervalMs: 0,
        // These bots send no RTP at all: to the path watch every transport would look dead.
        fastPathRecovery: false,
        events: { error: (err) => errors.push(`${sub}: ${err.message}`) },
      });
      return client;
    };
    const room = newRoomId();
    const errors: string[] = [];
    const doctor = await bot('doc', room, doctorClaims, errors);
    await doctor.join();
    // Something to consume on admission in half of the rounds, as when the doctor's camera is on.
    const counts = countProducers(room);
    for (let round = 0; round < BOT_ROUNDS; round++) {
      if (round === BOT_ROUNDS / 2)
        await doctor.publish(new MediaStreamTrack({ kind: 'audio' }) as never, 'mic');
      const sub = `pat${round}`;
      const patient = await bot(sub, room, { perms: patientPerms }, errors);
      // What the room page does: join, wait for admission, then publish one source after the other.
      const published = patient
        .join()
        .then(() => patient.whenAdmitted())
        .then(async () => {
          await patient.publish(new MediaStreamTrack({ kind: 'audio' }) as never, 'mic');
          await patient.publish(new MediaStreamTrack({ kind: 'video' }) as never, 'webcam');
        });
      await until('knock', () => t.node.hub.rooms.get(room)?.waiting.has(sub) === true);
      await doctor.admit(sub);
      await published;
      await new Promise((r) => setTimeout(r, 50)); // a duplicate produce would land now
      expect(liveSources(room, sub)).toEqual(['mic', 'webcam']);
      expect([counts.get(`${sub}:mic`), counts.get(`${sub}:webcam`)]).toEqual([1, 1]);
      // The doctor consumes both before the patient goes (a consume racing a departure fails by design).
      await until(
        'doctor consumes',
        () => [...doctor.consumers.values()].filter((c) => c.appData.peerId === sub).length === 2,
      );
      patient.leave();
      await until('left', () => !t.node.hub.rooms.get(room)!.room.peers.has(sub));
    }
    expect(errors).toEqual([]);
    doctor.leave();
    removeBotPolyfill();
  }, 120_000);

  it(`${BROWSER_ROUNDS} patients in Chromium knock, are admitted by the doctor's page and publish: one producer per source`, async () => {
    const chromium = await launchChromium();
    try {
      const room = newRoomId();
      const doctor = await openWindow(chromium.browser);
      await doctor.goto(`${t.baseUrl}/app/#token=${await mintFor(t.node, room, 'doc', doctorClaims)}`);
      await waitForProbe(doctor, "window.carecall.status === 'admitted'");
      await until('doctor publishes', () => liveSources(room, 'doc').length === 2);
      const counts = countProducers(room);
      for (let round = 0; round < BROWSER_ROUNDS; round++) {
        const sub = `pat${round}`;
        const patient: Page = await openWindow(chromium.browser);
        // What the room client reports through its error event (a refused produce would be one).
        const callErrors: string[] = [];
        patient.on('console', (m) => m.text().startsWith('call error') && callErrors.push(m.text()));
        await patient.goto(
          `${t.baseUrl}/app/#token=${await mintFor(t.node, room, sub, { perms: patientPerms })}`,
        );
        await waitForProbe(patient, "window.carecall.status === 'waiting'");
        await doctor.evaluate(`window.carecall.client.admit(${JSON.stringify(sub)})`);
        await waitForProbe(patient, "window.carecall.client.published.get('webcam')?.producer !== undefined");
        await waitForProbe(patient, 'window.carecall.firstRemoteFrameAt > 0');
        await new Promise((r) => setTimeout(r, 150));
        expect(liveSources(room, sub)).toEqual(['mic', 'webcam']);
        expect([counts.get(`${sub}:mic`), counts.get(`${sub}:webcam`)]).toEqual([1, 1]);
        expect(callErrors).toEqual([]);
        // Leaving (not just closing the tab, which keeps the session for a resume) frees the seat.
        await patient.evaluate('window.carecall.client.leave()');
        await until('left', () => !t.node.hub.rooms.get(room)!.room.peers.has(sub));
        await patient.close();
      }
    } finally {
      await chromium.close();
    }
  }, 180_000);
});
