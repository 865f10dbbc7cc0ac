/**
 * SFU overload benchmark (not a test): one publisher, many subscribers, more than the machine can
 * carry, through the full app and bare mediasoup in the same run. Graceful means every subscriber
 * gets some of the media; failing means whole subscribers go silent. Prints JSON and a table.
 * Run it under `flock /tmp/carecall-heavy.lock`. Options: --subscribers=60 --hold-seconds=40
 * --window-seconds=5 --cpu-hogs=0 (busy processes competing for the CPU during both phases)
 * --stats-interval-ms=0 (3000: app subscribers report link stats every 3 s like the room page)
 */
import { cpus, loadavg } from 'node:os';
import { startCpuHogs } from './cpu-hogs.ts';
import { appOverload, bareOverload, type OverloadResult } from './overload.ts';

const args = new Map<string, string | undefined>(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k!, v];
  }),
);
const num = (name: string, fallback: number) => (args.has(name) ? Number(args.get(name)) : fallback);
const log = (line: string) => process.stderr.write(`[overload] ${line}\n`);

const opts = {
  subscribers: num('subscribers', 60),
  holdMs: num('hold-seconds', 40) * 1000,
  windowMs: num('window-seconds', 5) * 1000,
  statsIntervalMs: num('stats-interval-ms', 0),
  log,
};
const cpuHogs = num('cpu-hogs', 0);
const startedAt = new Date().toISOString();
const loadBefore = loadavg();
const stopHogs = startCpuHogs(cpuHogs);
// A benchmark stopped from outside must not leave its busy processes spinning.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    stopHogs();
    process.exit(1);
  });
}
let app: OverloadResult;
let bare: OverloadResult;
try {
  log(`app phase: 1 publisher, ${opts.subscribers} subscribers, ${cpuHogs} busy processes`);
  app = await appOverload(opts);
  log('bare mediasoup phase');
  bare = await bareOverload(opts);
} finally {
  stopHogs();
}

const last = (r: OverloadResult) => r.windows.at(-1);
const result = {
  benchmark: 'carecall-sfu-overload',
  startedAt,
  finishedAt: new Date().toISOString(),
  machine: { cpus: cpus().length, loadavgBefore: loadBefore, loadavgAfter: loadavg(), node: process.version },
  setup: { ...opts, log: undefined, cpuHogs, media: 'VP8 30fps ~500kbps + Opus 50pps, synthetic RTP' },
  app,
  bare,
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
const row = (name: string, r: OverloadResult) => {
  const w = last(r);
  const closed = Object.values(r.signalingClosed).reduce((a, b) => a + b, 0);
  const notConnected = Object.values(r.transportsNotConnected).reduce((a, b) => a + b, 0);
  return `| ${name} | ${r.joined} (${r.failedJoins} failed) | ${w?.receiving ?? '-'} / ${w?.degraded ?? '-'} / ${w?.silent ?? '-'} | ${r.perSubscriberPct.min} / ${r.perSubscriberPct.p10} / ${r.perSubscriberPct.p50} | ${closed} | ${notConnected} | ${r.udpDrops.server} / ${r.udpDrops.otherSockets} |`;
};
process.stdout.write(
  [
    '',
    '| SFU | joined | last window: receiving / degraded / silent | % of media received, whole hold: min / p10 / p50 | signaling closed | transports not connected | UDP drops: SFU ports / other sockets |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    row('CareCall app', app),
    row('bare mediasoup', bare),
    '',
  ].join('\n'),
);
process.exit(0);
