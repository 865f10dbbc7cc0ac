/**
 * SFU benchmark (not a test): consumers per core through the full app vs bare mediasoup, and
 * join -> first frame in Chromium. Prints one JSON object and a table. Run it under
 * `flock /tmp/carecall-heavy.lock` on shared machines. Options: --publishers=2 --step=8
 * --max-consumers=1200 --phase-seconds=240 --window-seconds=6 --joins=15 --skip-browser --browser-only
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { readFileSync } from 'node:fs';
import { firstFramePhase, type FirstFrameResult } from './first-frame.ts';
import { appPhase, barePhase } from './phases.ts';
import type { RampLimits, RampResult } from './ramp.ts';
import { printTable } from './report.ts';

const args = new Map<string, string | undefined>(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k!, v];
  }),
);
const num = (name: string, fallback: number) => (args.has(name) ? Number(args.get(name)) : fallback);

const publishers = num('publishers', 2);
const limits: RampLimits = {
  subscribersPerStep: num('step', 8),
  maxConsumers: num('max-consumers', 1200),
  budgetMs: num('phase-seconds', 240) * 1000,
  settleMs: 2000,
  windowMs: num('window-seconds', 6) * 1000,
  maxLossPct: 1,
  saturation: 0.9,
};
const log = (line: string) => process.stderr.write(`[loadtest] ${line}\n`);
// Read from disk: some packages do not export their package.json.
const version = (pkg: string) =>
  (
    JSON.parse(readFileSync(new URL(`../../node_modules/${pkg}/package.json`, import.meta.url), 'utf8')) as {
      version: string;
    }
  ).version;

const startedAt = new Date().toISOString();
// Browser phase first: it needs the least noise, and runs before any bot exists.
let firstFrame: FirstFrameResult | { skipped: true } = { skipped: true };
if (!args.has('skip-browser')) {
  log('join -> first frame (Chromium)');
  firstFrame = await firstFramePhase(num('joins', 15), log);
}
const noRamp: RampResult = {
  steps: [],
  stoppedBecause: 'time_budget',
  sustained: undefined,
  consumersPerCore: undefined,
  extrapolated: false,
};
let app: RampResult & { socketServer?: string } = noRamp;
let bare = noRamp;
if (!args.has('browser-only')) {
  log(
    `app phase: ${publishers} publishers (audio+video), +${limits.subscribersPerStep} subscribers per step`,
  );
  app = await appPhase({ publishers, limits, log });
  log('bare mediasoup phase');
  bare = await barePhase({ publishers, limits, log });
}

const summary = (r: RampResult) => ({
  consumersPerCore: r.consumersPerCore,
  extrapolatedFromCpu: r.extrapolated,
  sustainedConsumers: r.sustained?.consumers,
  workerCpuAtSustained: r.sustained?.workerCpu,
  stoppedBecause: r.stoppedBecause,
  steps: r.steps,
});
const appVsBarePct =
  app.consumersPerCore && bare.consumersPerCore
    ? Math.round((1000 * app.consumersPerCore) / bare.consumersPerCore) / 10
    : undefined;
// One step's CPU reading on a shared machine is noisy: also compare worker CPU step by step at equal
// consumer counts (bare CPU / app CPU, median), which uses every step, not just the last passing one.
const matched = app.steps.flatMap((a) => {
  const b = bare.steps.find((x) => x.consumers === a.consumers);
  return b && a.workerCpu > 0 ? [(100 * b.workerCpu) / a.workerCpu] : [];
});
matched.sort((x, y) => x - y);
const appVsBareMatchedStepsPct = matched.length
  ? Math.round(10 * matched[Math.floor(matched.length / 2)]!) / 10
  : undefined;
const p50 = 'p50Ms' in firstFrame ? firstFrame.p50Ms : undefined;
const result = {
  benchmark: 'carecall-sfu',
  startedAt,
  finishedAt: new Date().toISOString(),
  machine: {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memGiB: Math.round(totalmem() / 2 ** 30),
    loadavg: loadavg(),
    node: process.version,
  },
  versions: {
    mediasoup: version('mediasoup'),
    mediasoupClient: version('mediasoup-client'),
    werift: version('werift'),
  },
  setup: {
    publishers,
    media: 'VP8 30fps ~500kbps + Opus 50pps, synthetic RTP',
    bots: 'werift + mediasoup-client Chrome111 handler',
    limits,
  },
  app: { ...summary(app), socketServer: app.socketServer },
  bare: summary(bare),
  appVsBarePct,
  appVsBareMatchedStepsPct,
  firstFrame,
  targets: {
    consumersPerCore500: app.consumersPerCore !== undefined && app.consumersPerCore >= 500,
    appVsBare95pct: appVsBarePct !== undefined && appVsBarePct >= 95,
    firstFrameP50Under300ms: p50 !== undefined && p50 <= 300,
  },
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
printTable(result);
process.exit(0);
