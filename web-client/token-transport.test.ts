import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchChromium, openWindow, waitForProbe } from '../test/helpers/browser.ts';
import { startTestNode } from '../test/helpers/node.ts';
import { mintFor, newRoomId } from '../test/helpers/tokens.ts';

let t: Awaited<ReturnType<typeof startTestNode>>;
let chromium: Awaited<ReturnType<typeof launchChromium>>;
beforeAll(async () => {
  t = await startTestNode();
  chromium = await launchChromium();
});
afterAll(async () => {
  await chromium?.close();
  await t?.node.stop();
});

it('the room page opens its signaling socket with the token in Sec-WebSocket-Protocol, never in the URL (also on resume)', async () => {
  const page = await openWindow(chromium.browser);
  const cdp = await page.createCDPSession();
  await cdp.send('Network.enable');
  const sockets: { url: string; protocols?: string; selected?: string }[] = [];
  cdp.on('Network.webSocketCreated', (e: { url: string }) => sockets.push({ url: e.url }));
  cdp.on(
    'Network.webSocketWillSendHandshakeRequest',
    (e: { request: { headers: Record<string, string> } }) => {
      sockets.at(-1)!.protocols = e.request.headers['Sec-WebSocket-Protocol'];
    },
  );
  cdp.on(
    'Network.webSocketHandshakeResponseReceived',
    (e: { response: { headers: Record<string, string> } }) => {
      sockets.at(-1)!.selected =
        e.response.headers['Sec-WebSocket-Protocol'] ?? e.response.headers['sec-websocket-protocol'];
    },
  );
  const token = await mintFor(t.node, newRoomId(), 'browser-proto');
  await page.goto(`${t.baseUrl}/app/#token=${token}`);
  await waitForProbe(page, 'window.carecall.status === "admitted"');
  // A dropped socket resumes with the resume key, which travels the same way.
  await page.evaluate('window.carecall.client.signaling.drop()');
  await waitForProbe(page, "window.carecall.events.includes('connection:resumed')", 20_000);

  expect(sockets.length).toBe(2);
  for (const s of sockets) {
    expect(s.url).toBe(`ws://127.0.0.1:${t.node.port}/ws`);
    expect(s.selected).toBe('carecall.v1');
  }
  expect(sockets[0]!.protocols).toBe(`carecall.v1, carecall.token.${token}`);
  expect(sockets[1]!.protocols).toMatch(/^carecall\.v1, carecall\.resume\.[A-Za-z0-9_-]+\.\d+$/);
  // The token is gone from the address bar and history too (the page drops the fragment on load).
  expect(page.url()).toBe(`${t.baseUrl}/app/`);
});
