import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchChromium, openWindow, pageStats, waitForProbe } from '../test/helpers/browser.ts';
import { startTestNode } from '../test/helpers/node.ts';
import { mintFor, newRoomId } from '../test/helpers/tokens.ts';

// Blocks the media worker's UDP port mid-call (root + iptables, installed by scripts/setup.sh --test),
// so the only way media continues is an ICE restart onto the TCP candidate: a real path change.
let t: Awaited<ReturnType<typeof startTestNode>>;
let chromium: Awaited<ReturnType<typeof launchChromium>>;
let rule: string[] | undefined;

beforeAll(async () => {
  t = await startTestNode();
  chromium = await launchChromium();
});
afterAll(async () => {
  if (rule) execFileSync('iptables', ['-D', ...rule]);
  await chromium?.close();
  await t?.node.stop();
});

it('a quiet call is not a lost path: with everyone muted and cameras off nothing restarts', async () => {
  const room = newRoomId();
  const pages = [];
  for (const sub of ['a', 'b']) {
    const page = await openWindow(chromium.browser);
    await page.goto(`${t.baseUrl}/app/#token=${await mintFor(t.node, room, sub)}`);
    await waitForProbe(page, "window.carecall.status === 'admitted'");
    pages.push(page);
  }
  for (const page of pages) await waitForProbe(page, 'window.carecall.firstRemoteFrameAt > 0');
  for (const page of pages) {
    await page.evaluate(
      "Promise.all([window.carecall.client.setPaused('mic', true), window.carecall.client.setPaused('webcam', true)])",
    );
  }
  await new Promise((r) => setTimeout(r, 3000));
  for (const page of pages) {
    const events = (await page.evaluate('window.carecall.events')) as string[];
    expect(
      events.filter((e) => e.startsWith('connection:')),
      await pathTimeline(page),
    ).toEqual([]);
    await page.evaluate('window.carecall.client.leave()');
    await page.close();
  }
}, 30_000);

it('UDP path lost mid-call -> the client restarts ICE -> media continues over TCP', async () => {
  const room = newRoomId();
  const pages = [];
  for (const sub of ['a', 'b']) {
    const page = await openWindow(chromium.browser);
    await page.goto(`${t.baseUrl}/app/#token=${await mintFor(t.node, room, sub)}`);
    await waitForProbe(page, "window.carecall.status === 'admitted'");
    pages.push(page);
  }
  const [a, b] = pages as [(typeof pages)[0], (typeof pages)[0]];
  await waitForProbe(a, 'window.carecall.firstRemoteFrameAt > 0');
  const transports = [...t.node.hub.rooms.get(room)!.room.peers.get('a')!.transports.values()];
  expect(transports.every((tr) => tr.iceSelectedTuple?.protocol === 'udp')).toBe(true);
  // A worker listens on several UDP sockets and spreads peers over them: block every port both
  // pages' transports use, so each page loses its path.
  const room0 = t.node.hub.rooms.get(room)!.room;
  const udpPorts = ['a', 'b'].flatMap((id) =>
    [...room0.peers.get(id)!.transports.values()].flatMap((tr) =>
      tr.iceCandidates.filter((c) => c.protocol === 'udp').map((c) => c.port),
    ),
  );
  const range = `${Math.min(...udpPorts)}:${Math.max(...udpPorts)}`;

  rule = ['INPUT', '-p', 'udp', '--dport', range, '-j', 'DROP'];
  execFileSync('iptables', ['-I', ...rule]);
  const blockedAt = Date.now();
  // Both pages' media use the blocked port: each must notice, restart ICE and resume on its own.
  // By consumer: a recovery that makes new transports replaces the consumers (new ids, counters from 0).
  const framesFlowing = `(async () => {
    const s1 = await window.carecall.stats(); await new Promise(r => setTimeout(r, 500)); const s2 = await window.carecall.stats();
    const before = new Map(s1.video.map(v => [v.consumerId, v.framesDecoded]));
    return s2.video.some(v => v.framesDecoded > (before.get(v.consumerId) ?? 0)); })()`;
  for (const page of [a, b]) {
    await waitForProbe(page, "window.carecall.events.includes('connection:iceRestart')", 20_000);
    await page.waitForFunction(framesFlowing, { timeout: 20_000, polling: 250 });
  }
  console.log(
    `UDP blocked -> ICE restart -> frames flowing again over TCP on both pages after ${Date.now() - blockedAt} ms`,
  );
  // Fast path-loss detection is on by default; its timing is measured in loadtests/path-change.
  for (const page of [a, b])
    expect(await page.evaluate('window.carecall.client.fastPathRecovery')).toBe(true);
  // Every transport ends up on TCP (one whose server-to-client half still worked over UDP may get
  // there a moment after media is back).
  const tuples = () =>
    ['a', 'b'].flatMap((peer) =>
      [...t.node.hub.rooms.get(room)!.room.peers.get(peer)!.transports.values()].map(
        (tr) => tr.iceSelectedTuple?.protocol,
      ),
    );
  for (let i = 0; i < 100 && tuples().some((p) => p !== 'tcp'); i++)
    await new Promise((r) => setTimeout(r, 100));
  expect(tuples()).toEqual(['tcp', 'tcp', 'tcp', 'tcp']);
  const decoded = async () => (await pageStats(b)).video.reduce((n, v) => n + v.framesDecoded, 0);
  const before = await decoded();
  await new Promise((r) => setTimeout(r, 1000));
  expect(await decoded()).toBeGreaterThan(before + 5);
}, 60_000);

/** What the page's path recovery saw and did (ms since the page's first entry): the reason for a failure. */
async function pathTimeline(page: import('puppeteer-core').Page): Promise<string> {
  return (await page.evaluate(`(() => { const e = window.carecall.client?.media.path.timeline.entries ?? [];
    return e.map((x) => '+' + (x.at - e[0].at) + ' ' + x.event).join(' | '); })()`)) as string;
}

/** The UDP test leaves its rule for afterAll; the tests after it start on an open network. */
function unblock() {
  if (rule) execFileSync('iptables', ['-D', ...rule]);
  rule = undefined;
}

it('a camera turned off and a muted microphone for several seconds are not a lost path: nothing restarts', async () => {
  unblock();
  const room = newRoomId();
  const pages = [];
  for (const sub of ['a', 'b']) {
    const page = await openWindow(chromium.browser);
    await page.goto(`${t.baseUrl}/app/#token=${await mintFor(t.node, room, sub)}`);
    await waitForProbe(page, "window.carecall.status === 'admitted'");
    pages.push(page);
  }
  const [a, b] = pages as [(typeof pages)[0], (typeof pages)[0]];
  for (const page of pages) await waitForProbe(page, 'window.carecall.firstRemoteFrameAt > 0');
  // a's camera off (its producer paused: b receives only a's audio); b muted (a receives only b's video).
  await a.evaluate("window.carecall.client.setPaused('webcam', true)");
  await b.evaluate("window.carecall.client.setPaused('mic', true)");
  await new Promise((r) => setTimeout(r, 5000));
  for (const page of pages) {
    const events = (await page.evaluate('window.carecall.events')) as string[];
    expect(
      events.filter((e) => e.startsWith('connection:')),
      await pathTimeline(page),
    ).toEqual([]);
    expect(await page.evaluate('window.carecall.client.fastPathRecovery')).toBe(true);
  }
  // And the camera back on is not one either; b decodes a's video again.
  await a.evaluate("window.carecall.client.setPaused('webcam', false)");
  const decoded = async () => (await pageStats(b)).video.reduce((n, v) => n + v.framesDecoded, 0);
  const before = await decoded();
  await new Promise((r) => setTimeout(r, 1500));
  expect(await decoded()).toBeGreaterThan(before);
  for (const page of pages) {
    const events = (await page.evaluate('window.carecall.events')) as string[];
    expect(
      events.filter((e) => e.startsWith('connection:')),
      await pathTimeline(page),
    ).toEqual([]);
    await page.evaluate('window.carecall.client.leave()');
    await page.close();
  }
}, 40_000);
