import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchChromium, openWindow, waitForProbe } from '../test/helpers/browser.ts';
import { startTestNode } from '../test/helpers/node.ts';
import { freePort } from '../test/helpers/ports.ts';
import { mintFor, newRoomId } from '../test/helpers/tokens.ts';

// A real coturn (Debian package, installed by scripts/setup.sh --test) relaying a call whose
// pages may only use relay candidates: host candidates are never tried.
let turnserver: ChildProcess;
let t: Awaited<ReturnType<typeof startTestNode>>;
let chromium: Awaited<ReturnType<typeof launchChromium>>;

beforeAll(async () => {
  const port = await freePort();
  const relayBase = 50_000 + Math.floor(Math.random() * 10_000);
  const secret = randomBytes(24).toString('hex');
  turnserver = spawn(
    'turnserver',
    [
      '-n',
      '--listening-ip=127.0.0.1',
      '--relay-ip=127.0.0.1',
      `--listening-port=${port}`,
      `--min-port=${relayBase}`,
      `--max-port=${relayBase + 200}`,
      '--use-auth-secret',
      `--static-auth-secret=${secret}`,
      '--realm=carecall',
      '--no-cli',
      '--no-tls',
      '--no-dtls',
      '--allow-loopback-peers',
      '--log-file=stdout',
      '--simple-log',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('turnserver did not start')), 10_000);
    turnserver.stdout!.on('data', (d: Buffer) => {
      if (/listener opened on|Total General servers/i.test(d.toString())) (clearTimeout(timer), resolve());
    });
    turnserver.once('exit', (code) => reject(new Error(`turnserver exited ${code}`)));
  });
  t = await startTestNode({ TURN_URLS: `turn:127.0.0.1:${port}?transport=udp`, TURN_SECRET: secret });
  chromium = await launchChromium();
});
afterAll(async () => {
  await chromium?.close();
  await t?.node.stop();
  turnserver?.kill('SIGTERM');
});

it('relay-only call through coturn: both sides decode video, and the selected paths are relayed', async () => {
  const room = newRoomId();
  const pages = [];
  for (const sub of ['a', 'b']) {
    const page = await openWindow(chromium.browser);
    await page.goto(`${t.baseUrl}/app/#token=${await mintFor(t.node, room, sub)}&relay=1`);
    pages.push(page);
  }
  for (const page of pages) {
    await waitForProbe(page, 'window.carecall.firstRemoteFrameAt > 0', 20_000);
    await page.waitForFunction(
      '(async () => { const a = await window.carecall.stats(); await new Promise(r => setTimeout(r, 500)); const b = await window.carecall.stats(); return b.video.length > 0 && b.video[0].framesDecoded > a.video[0].framesDecoded; })()',
      { timeout: 10_000, polling: 250 },
    );
    const types = (await page.evaluate('window.carecall.candidateTypes()')) as string[];
    expect(types).toHaveLength(2);
    expect(types.every((type) => type === 'relay')).toBe(true);
  }
  // mediasoup sees the relay's address as the remote end, not the browser's.
  const transports = [...t.node.hub.rooms.get(room)!.room.peers.get('a')!.transports.values()];
  expect(
    transports.every(
      (tr) => tr.iceSelectedTuple?.remoteIp === '127.0.0.1' && tr.iceSelectedTuple.protocol === 'udp',
    ),
  ).toBe(true);
}, 60_000);
