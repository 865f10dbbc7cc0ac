import { randomBytes } from 'node:crypto';
import { launchChromium, openWindow, waitForProbe } from '../../test/helpers/browser.ts';
import { startAppNode } from './phases.ts';
import { percentile } from '../stats.ts';

export type FirstFrameResult = {
  joins: number;
  publisherAttempts: number;
  failedJoins: string[];
  samplesMs: number[];
  p50Ms: number;
  p95Ms: number;
  chromium: string;
};

/**
 * N sequential joins of a Chromium page into a room where another page publishes; each sample runs
 * from the page's join start to its first rendered remote video frame (window.carecall probe).
 */
export async function firstFramePhase(joins: number, log: (line: string) => void): Promise<FirstFrameResult> {
  const node = await startAppNode();
  const chromium = await launchChromium();
  try {
    const room = randomBytes(12).toString('base64url');
    const url = async (sub: string) =>
      `http://127.0.0.1:${node.port}/app/#token=${await node.issuer.mint({ sub, room, role: 'patient', perms: ['publish', 'subscribe', 'admit'] })}`; // admit: enter without the waiting room
    // One retry: a loaded shared machine once dropped the publisher's socket (1006) mid-join.
    let publisherAttempts = 0;
    for (let attempt = 1; ; attempt++) {
      publisherAttempts = attempt;
      const publisher = await openWindow(chromium.browser);
      await publisher.goto(await url('publisher'));
      try {
        await waitForProbe(publisher, 'window.carecall.joinedAt > 0');
        break;
      } catch (err) {
        log(`publisher join failed (attempt ${attempt}): ${(err as Error).message.split('\n')[0]}`);
        await publisher.close();
        if (attempt >= 2) throw err;
      }
    }
    // Wait until the publisher's camera is really in the room, or the first joins would measure publishing.
    const deadline = Date.now() + 10_000;
    while ((node.hub.rooms.get(room)?.room.peers.get('publisher')?.producers.size ?? 0) < 2) {
      if (Date.now() > deadline) throw new Error('publisher did not publish');
      await new Promise((r) => setTimeout(r, 50));
    }
    const samplesMs: number[] = [];
    const failedJoins: string[] = [];
    for (let i = 0; i < joins; i++) {
      const page = await openWindow(chromium.browser);
      await page.goto(await url(`viewer-${i}`));
      let s;
      try {
        s = await waitForProbe(page, 'window.carecall.firstRemoteFrameAt > 0');
      } catch (err) {
        // Counted and reported, not hidden: a failed join has no first frame to time.
        failedJoins.push((err as Error).message.split('\n')[0]!);
        log(`join ${i + 1}/${joins} FAILED: ${failedJoins.at(-1)}`);
        await page.close();
        continue;
      }
      const ms = Math.round(s.firstRemoteFrameAt - s.joinStartedAt);
      samplesMs.push(ms);
      const marks = (await page.evaluate(
        "performance.getEntriesByType('mark').filter((m) => m.name.startsWith('carecall:')).map((m) => [m.name.slice(9), Math.round(m.startTime)])",
      )) as [string, number][];
      const steps = marks.map(([name, t]) => `${name}+${t - Math.round(s.joinStartedAt)}`).join(' ');
      log(`join ${i + 1}/${joins}: ${ms} ms [${steps} first-frame+${ms}]`);
      // Leave for real: a closed page alone would stay in the room for the resume grace period.
      await page.evaluate('window.carecall.client.leave()');
      await page.close();
    }
    const sorted = [...samplesMs].sort((a, b) => a - b);
    return {
      joins,
      publisherAttempts,
      failedJoins,
      samplesMs,
      p50Ms: percentile(sorted, 50),
      p95Ms: percentile(sorted, 95),
      chromium: await chromium.browser.version(),
    };
  } finally {
    await chromium.close();
    await node.stop();
  }
}
