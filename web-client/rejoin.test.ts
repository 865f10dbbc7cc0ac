import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchChromium, openWindow, pageStats, waitForProbe } from '../test/helpers/browser.ts';
import { startTestNode } from '../test/helpers/node.ts';
import { mintFor, newRoomId } from '../test/helpers/tokens.ts';

let t: Awaited<ReturnType<typeof startTestNode>>;
let chromium: Awaited<ReturnType<typeof launchChromium>>;
beforeAll(async () => {
  // A short grace period stands in for an outage longer than the server keeps sessions.
  t = await startTestNode({}, { resumeGraceMs: 1000 });
  chromium = await launchChromium();
});
afterAll(async () => {
  await chromium?.close();
  await t?.node.stop();
});

it('an outage longer than the grace period: the client rejoins cleanly, no duplicate peers, media back', async () => {
  const room = newRoomId();
  const open = async (sub: string) => {
    const page = await openWindow(chromium.browser);
    await page.goto(`${t.baseUrl}/app/#token=${await mintFor(t.node, room, sub)}`);
    await waitForProbe(
      page,
      'window.carecall.firstRemoteFrameAt > 0 || window.carecall.status === "admitted"',
    );
    return page;
  };
  const a = await open('a');
  const b = await open('b');
  await waitForProbe(a, 'window.carecall.firstRemoteFrameAt > 0');

  await b.setOfflineMode(true); // new connections fail; the call's media is not affected
  await b.evaluate('window.carecall.client.signaling.drop()');
  await new Promise((r) => setTimeout(r, 2000));
  expect([...t.node.hub.rooms.get(room)!.room.peers.keys()]).toEqual(['a']);
  await b.setOfflineMode(false);

  await waitForProbe(b, "window.carecall.events.includes('connection:rejoined')", 20_000);
  await b.waitForFunction('window.carecall.stats().then(s => s.video.some(v => v.framesDecoded > 0))', {
    timeout: 10_000,
    polling: 100,
  });
  await a.waitForFunction(
    'window.carecall.stats().then(s => s.video.length === 1 && s.video[0].framesDecoded > 0)',
    { timeout: 10_000, polling: 100 },
  );
  expect([...t.node.hub.rooms.get(room)!.room.peers.keys()].sort()).toEqual(['a', 'b']);
  expect([...t.node.hub.rooms.get(room)!.members.keys()].sort()).toEqual(['a', 'b']);
  // a sees exactly one b: old consumers were closed when b's first session ended.
  const statsA = await pageStats(a);
  expect(statsA.video).toHaveLength(1);
  expect(statsA.audio).toHaveLength(1);
  expect(await b.evaluate('window.carecall.events')).not.toContain('connection:resumed');
});

it('a connection lost before the join answered: the client starts over with its token and gets in', async () => {
  const page = await openWindow(chromium.browser);
  // The page's first WebSocket dies right after opening, before anything is joined (no session yet).
  await page.evaluateOnNewDocument(`
    const Native = window.WebSocket;
    let first = true;
    window.__sockets = 0;
    window.WebSocket = function (...args) {
      window.__sockets++;
      const ws = new Native(...args);
      if (first) { first = false; ws.addEventListener('open', () => ws.close(4000, 'test drop')); }
      return ws;
    };
    window.WebSocket.prototype = Native.prototype;
    Object.assign(window.WebSocket, Native);
  `);
  await page.goto(`${t.baseUrl}/app/#token=${await mintFor(t.node, newRoomId(), 'early-drop')}`);
  const state = await waitForProbe(page, "window.carecall.status === 'admitted'", 20_000);
  expect(state.error).toBe('');
  // The first socket really was dropped, and a second one carried the join.
  expect(await page.evaluate('window.__sockets')).toBe(2);
});
