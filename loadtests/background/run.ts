/**
 * Background-effect benchmark (not a test): the room page in real Chromium (software rendering,
 * no GPU) publishing its fake camera, at 640x360 and 1280x720, with the effect off, blur and
 * replace, in the same run. For each: CPU used by Chromium's renderer and GPU processes (cores,
 * from /proc), frames the webcam producer's top layer sent per second, and the effect's own
 * counters. Prints one JSON object and a table. Run under `flock /tmp/carecall-heavy.lock`.
 * Options: --seconds=8 (per measurement)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { launchChromium, openWindow, waitForProbe } from '../../test/helpers/browser.ts';
import { startTestNode } from '../../test/helpers/node.ts';
import { mintFor, newRoomId } from '../../test/helpers/tokens.ts';

const seconds = Number(process.argv.find((a) => a.startsWith('--seconds='))?.split('=')[1] ?? 8);
const SIZES = [
  { width: 640, height: 360 },
  { width: 1280, height: 720 },
];
const MODES = [{ kind: 'off' }, { kind: 'blur' }, { kind: 'replace', image: 'soft-wall' }] as const;
const TICKS = 100; // USER_HZ on Linux
const log = (line: string) => process.stderr.write(`${line}\n`);

/** utime + stime (s) of every Chromium renderer and GPU process. */
function chromiumCpuSeconds(): number {
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!/chromium/.test(cmdline) || !/--type=(renderer|gpu-process)/.test(cmdline)) continue;
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // the process ended meanwhile
    }
  }
  return ticks / TICKS;
}

// Frames sent by the highest simulcast layer of the webcam producer.
const FRAMES_SENT = `(async () => {
  const stats = await window.carecall.client.published.get('webcam').producer.getStats();
  let best = 0; stats.forEach(s => { if (s.type === 'outbound-rtp' && s.kind === 'video') best = Math.max(best, s.framesSent || 0); });
  return best; })()`;

async function main() {
  const t = await startTestNode();
  const chromium = await launchChromium();
  const rows: Record<string, unknown>[] = [];
  try {
    const page = await openWindow(chromium.browser);
    await page.goto(`${t.baseUrl}/app/#token=${await mintFor(t.node, newRoomId(), 'bench')}`);
    await waitForProbe(page, `window.carecall.client?.published.get('webcam')?.producer !== undefined`);
    for (const size of SIZES) {
      // A camera at this size replaces the page's own (same producer), then each mode in turn.
      await page.evaluate(`(async () => {
        const c = window.carecall.client;
        await window.carecall.background.apply(c, { kind: 'off' });
        const s = await c.openLocalMedia({}, { width: ${size.width}, height: ${size.height}, frameRate: 30 });
        s.getAudioTracks().forEach(t => t.stop());
        await c.replaceTrack('webcam', s.getVideoTracks()[0]);
      })()`);
      for (const mode of MODES) {
        await page.evaluate(
          `window.carecall.background.apply(window.carecall.client, ${JSON.stringify(mode)})`,
        );
        await new Promise((r) => setTimeout(r, 2000)); // warm-up: model compiled, encoder settled
        const effectBefore = (await page.evaluate(
          'window.carecall.background.effect?.stats ? {...window.carecall.background.effect.stats} : null',
        )) as { framesIn: number; framesOut: number; segmentMs: number } | null;
        const sentBefore = (await page.evaluate(FRAMES_SENT)) as number;
        const cpuBefore = chromiumCpuSeconds();
        const started = performance.now();
        await new Promise((r) => setTimeout(r, seconds * 1000));
        const elapsed = (performance.now() - started) / 1000;
        const cpu = (chromiumCpuSeconds() - cpuBefore) / elapsed;
        const sent = ((await page.evaluate(FRAMES_SENT)) as number) - sentBefore;
        const effectAfter = (await page.evaluate(
          'window.carecall.background.effect?.stats ? {...window.carecall.background.effect.stats} : null',
        )) as typeof effectBefore;
        const processed = effectAfter && effectBefore ? effectAfter.framesOut - effectBefore.framesOut : null;
        const segmentMs =
          effectAfter && effectBefore && processed
            ? (effectAfter.segmentMs - effectBefore.segmentMs) / processed
            : null;
        const row = {
          resolution: `${size.width}x${size.height}`,
          mode: mode.kind,
          cpuCores: Math.round(cpu * 100) / 100,
          sentFps: Math.round((sent / elapsed) * 10) / 10,
          effectFps: processed === null ? null : Math.round((processed / elapsed) * 10) / 10,
          segmentMsPerFrame: segmentMs === null ? null : Math.round(segmentMs * 10) / 10,
        };
        rows.push(row);
        log(JSON.stringify(row));
      }
    }
    await page.evaluate('window.carecall.background.apply(window.carecall.client, { kind: "off" })');
  } finally {
    await chromium.close();
    await t.node.stop();
  }
  const result = { benchmark: 'background-effect', secondsPerMeasurement: seconds, cameraFps: 30, rows };
  console.log(JSON.stringify(result, null, 2));
  console.log('\nresolution  mode     CPU (cores)  sent fps  effect fps  segment ms/frame');
  for (const r of rows)
    console.log(
      `${String(r.resolution).padEnd(11)} ${String(r.mode).padEnd(8)} ${String(r.cpuCores).padStart(11)}  ${String(r.sentFps).padStart(8)}  ${String(r.effectFps ?? '-').padStart(10)}  ${String(r.segmentMsPerFrame ?? '-').padStart(16)}`,
    );
}

await main();
