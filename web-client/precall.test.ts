import { afterAll, beforeAll, expect, it } from 'vitest';
import { launchChromium, openWindow } from '../test/helpers/browser.ts';
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

type Result = { name: string; state: string; detail: string };
async function runChecks(fragment: string) {
  const page = await openWindow(chromium.browser);
  await page.goto(`${t.baseUrl}/app/precall.html${fragment}`);
  await page.waitForFunction('window.precall && window.precall.done', { timeout: 15_000 });
  const results = (await page.evaluate('window.precall.results')) as Result[];
  return { page, results: Object.fromEntries(results.map((r) => [r.name, r])) };
}

it('with a valid link: camera, microphone, server and signaling all pass, and Join leads to the room', async () => {
  const token = await mintFor(t.node, newRoomId(), 'u1');
  const { page, results } = await runChecks(`#token=${token}`);
  expect(Object.keys(results).sort()).toEqual(['camera', 'microphone', 'server', 'signaling']);
  for (const r of Object.values(results)) expect(r.state, `${r.name}: ${r.detail}`).toBe('ok');
  const href = await page.$eval('#join', (a) => (a as HTMLAnchorElement).getAttribute('href'));
  expect(href).toBe(`/app/#token=${encodeURIComponent(token)}`);
  // The check does not join: nobody entered the room.
  expect([...t.node.hub.rooms.values()].every((r) => r.members.size === 0)).toBe(true);
  await page.close();
});

it('with an expired link: signaling fails with a clear message and no Join button', async () => {
  const token = await t.node.issuer.mint({ sub: 'u2', room: newRoomId(), role: 'patient', perms: [] }, -5);
  const { page, results } = await runChecks(`#token=${token}`);
  expect(results.signaling).toMatchObject({ state: 'fail' });
  expect(results.signaling!.detail).toContain('expired');
  expect(await page.$eval('#join', (a) => (a as HTMLElement).hidden)).toBe(true);
  await page.close();
});
