/**
 * Join -> first rendered remote frame with real Chromium: a doctor publishes camera + mic, then
 * patients join one after another (each in a fresh window, leaving cleanly afterwards).
 * Measured in the joining page from its join request to the first video frame it renders
 * (requestVideoFrameCallback). Loopback only; JOINS (default 30) bounds the run.
 */
import { cpus } from 'node:os';
import { launchChromium, openWindow, waitForProbe } from '../../test/helpers/browser.ts';
import { startTestNode } from '../../test/helpers/node.ts';
import { mintFor, newRoomId } from '../../test/helpers/tokens.ts';

const JOINS = Number(process.env.JOINS ?? 30);
const t = await startTestNode({ SFU_WORKERS: '1' });
const chromium = await launchChromium();
const samples: { joinToFrameMs: number; joinToAdmittedMs: number }[] = [];
try {
  const room = newRoomId();
  const doctor = await openWindow(chromium.browser);
  await doctor.goto(`${t.baseUrl}/app/#token=${await mintFor(t.node, room, 'doctor', { role: 'doctor' })}`);
  await waitForProbe(doctor, "window.carecall.status === 'admitted'");
  await new Promise((r) => setTimeout(r, 2000)); // let the doctor's encoder settle
  for (let i = 0; i < JOINS; i++) {
    const page = await openWindow(chromium.browser);
    await page.goto(`${t.baseUrl}/app/#token=${await mintFor(t.node, room, `patient-${i}`)}`);
    const s = await waitForProbe(page, 'window.carecall.firstRemoteFrameAt > 0', 20_000);
    samples.push({ joinToFrameMs: s.firstRemoteFrameAt - s.joinStartedAt, joinToAdmittedMs: s.admittedAt - s.joinStartedAt });
    await page.evaluate('window.carecall.client.leave()');
    await page.close();
  }
} finally {
  await chromium.close();
  await t.node.stop();
}

const pct = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!);
};
const frame = samples.map((s) => s.joinToFrameMs);
const admitted = samples.map((s) => s.joinToAdmittedMs);
const result = {
  benchmark: 'sfu-join-to-first-frame',
  joins: samples.length,
  joinToFirstFrameMs: { p50: pct(frame, 0.5), p95: pct(frame, 0.95), min: pct(frame, 0), max: pct(frame, 1) },
  joinToAdmittedMs: { p50: pct(admitted, 0.5), p95: pct(admitted, 0.95) },
  target: { p50Ms: 300, met: pct(frame, 0.5) <= 300 },
  machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
};
console.log(JSON.stringify(result, null, 2));
console.log('\nmetric                  | p50 ms | p95 ms');
console.log(`join -> first frame     | ${String(result.joinToFirstFrameMs.p50).padStart(6)} | ${String(result.joinToFirstFrameMs.p95).padStart(6)}`);
console.log(`join -> admitted (media setup starts) | ${result.joinToAdmittedMs.p50} | ${result.joinToAdmittedMs.p95}`);
