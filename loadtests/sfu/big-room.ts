/**
 * Big-room benchmark (not a test): video subscribers per core up to the first lossy level, bare
 * mediasoup on one worker vs one CareCall room spread over every worker, in the same run. The node
 * runs as its own process (server/main.ts, default worker count) so its CPU and its workers' are
 * measured apart from the bots'. Each subscriber receives one VP8 640x360 stream (plus Opus).
 * Prints one JSON object and a table. Run under `flock /tmp/carecall-heavy.lock`.
 * Options: --step=10 --max-subscribers=200 --phase-seconds=150 --window-seconds=5 --peers-per-worker=50
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { randomBytes } from 'node:crypto';
import * as mediasoup from 'mediasoup';
import { JoinTokenIssuer, loadJoinTokenKeys } from '../../server/media/join-tokens.ts';
import { ed25519Pem, startNodeProcess } from '../../test/helpers/node-process.ts';
import { AppControl } from './app-control.ts';
import { BareRoom } from './bare-control.ts';
import { Publisher, Subscriber } from './bot.ts';
import { ramp, type RampLimits, type RampResult, type StepResult } from './ramp.ts';
import { removeBotPolyfill } from './werift-env.ts';

const args = new Map(
  process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string | undefined]),
);
const num = (name: string, fallback: number) => (args.has(name) ? Number(args.get(name)) : fallback);
const maxSubscribers = num('max-subscribers', 200);
const limits: RampLimits = {
  subscribersPerStep: num('step', 10),
  // Two consumers per subscriber (video + audio).
  maxConsumers: 2 * maxSubscribers,
  budgetMs: num('phase-seconds', 150) * 1000,
  settleMs: 2000,
  windowMs: num('window-seconds', 5) * 1000,
  maxLossPct: 1,
  saturation: 0.9,
};
const log = (line: string) => process.stderr.write(`[big-room] ${line}\n`);
const TICKS_PER_MS = 1000 / 100; // /proc CPU times are in clock ticks of 10 ms

/** utime + stime (ms) of one process, from /proc. */
function procCpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICKS_PER_MS;
  } catch {
    return 0;
  }
}
/** The node's direct children (its mediasoup workers). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

async function barePhase(): Promise<RampResult> {
  const worker = await mediasoup.createWorker({ logLevel: 'warn' });
  const room = await BareRoom.create(worker);
  const publisher = await Publisher.start(room.control());
  try {
    return await ramp(
      { worker, addSubscriber: () => Subscriber.start(room.control()), consumers: () => room.consumers },
      limits,
      (line) => log(`bare ${line}`),
    );
  } finally {
    publisher.close();
    worker.close();
    removeBotPolyfill();
  }
}

async function appPhase(): Promise<RampResult & { workers: number }> {
  const pem = ed25519Pem();
  const workers = cpus().length;
  const node = await startNodeProcess({
    JOIN_TOKEN_PRIVATE_KEY: pem,
    SFU_WORKERS: String(workers),
    SFU_ROOM_PEERS_PER_WORKER: String(num('peers-per-worker', 50)),
    LOG_LEVEL: 'warn',
    PGLITE_DIR: 'memory://',
  });
  const issuer = new JoinTokenIssuer(loadJoinTokenKeys(pem), 3600);
  const room = randomBytes(12).toString('base64url');
  const wsUrl = `ws://127.0.0.1:${node.port}/ws`;
  let n = 0;
  // Hosts (no waiting room), in a room of the largest capacity a consult type may have.
  const control = async (perms: ('publish' | 'subscribe')[]) =>
    AppControl.connect(
      wsUrl,
      await issuer.mint({ sub: `bot-${++n}`, room, role: 'doctor', perms: [...perms, 'admit'], cap: 200 }),
    );
  const pid = node.child.pid!;
  const publisher = await Publisher.start(await control(['publish', 'subscribe']));
  try {
    const result = await ramp(
      {
        cpuMs: async () => procCpuMs(pid) + childrenOf(pid).reduce((ms, c) => ms + procCpuMs(c), 0),
        nodeCpuMs: async () => procCpuMs(pid),
        cores: workers,
        addSubscriber: async () => Subscriber.start(await control(['subscribe'])),
      },
      limits,
      (line) => log(`app  ${line}`),
    );
    return { ...result, workers };
  } finally {
    publisher.close();
    await node.stop();
    removeBotPolyfill();
  }
}

const subscribersPerCore = (s: StepResult | undefined) =>
  s && s.workerCpu > 0 ? Math.round(s.subscribers / s.workerCpu) : undefined;
const firstLossy = (r: RampResult) =>
  r.steps.find((s) => s.botLossPct > limits.maxLossPct || s.sfuLossPct > limits.maxLossPct);

const startedAt = new Date().toISOString();
log('bare mediasoup, one worker');
const bare = await barePhase();
log('CareCall node process, one room over every worker');
const app = await appPhase();
// Node CPU per subscriber at each step: flat = linear growth, rising = worse than linear.
const nodeCpuPerSubscriber = app.steps.map((s) => ({
  subscribers: s.subscribers,
  nodeCpu: s.nodeCpu,
  nodeCpuPerSubscriberMilli:
    s.nodeCpu !== undefined ? Math.round((1e6 * s.nodeCpu) / s.subscribers) / 1000 : undefined,
}));
const bareSustained = bare.sustained;
const appSustained = app.sustained;
const result = {
  benchmark: 'carecall-sfu-big-room',
  startedAt,
  finishedAt: new Date().toISOString(),
  machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model },
  setup: {
    media:
      'one publisher: VP8 640x360 30 fps ~500 kbps (single stream, synthetic) + Opus; each subscriber consumes both',
    appWorkers: app.workers,
    limits,
  },
  bare: {
    subscribersAtLastLossless: bareSustained?.subscribers,
    workerCpuThere: bareSustained?.workerCpu,
    subscribersPerCore: subscribersPerCore(bareSustained),
    firstLossy: firstLossy(bare),
    stoppedBecause: bare.stoppedBecause,
    steps: bare.steps,
  },
  app: {
    subscribersAtLastLossless: appSustained?.subscribers,
    cpuThere: appSustained?.workerCpu,
    nodeCpuThere: appSustained?.nodeCpu,
    subscribersPerCore: subscribersPerCore(appSustained),
    firstLossy: firstLossy(app),
    stoppedBecause: app.stoppedBecause,
    steps: app.steps,
    nodeCpuPerSubscriber,
  },
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
const row = (name: string, s: typeof result.bare | typeof result.app, cpu: number | undefined) =>
  `| ${name} | ${s.subscribersAtLastLossless ?? '-'} | ${cpu ?? '-'} | ${s.subscribersPerCore ?? '-'} | ${s.firstLossy?.subscribers ?? 'none'} | ${s.stoppedBecause} |`;
process.stdout.write(
  [
    '',
    '| SFU | subscribers at <1% loss | CPU there (cores) | subscribers/core | first lossy step | stopped because |',
    '| --- | --- | --- | --- | --- | --- |',
    row('bare mediasoup, 1 worker', result.bare, result.bare.workerCpuThere),
    row(`CareCall node + ${app.workers} workers`, result.app, result.app.cpuThere),
    '',
    `node process CPU per subscriber (milli-cores): ${nodeCpuPerSubscriber.map((x) => `${x.subscribers}:${x.nodeCpuPerSubscriberMilli}`).join(' ')}`,
    '',
  ].join('\n'),
);
process.exit(0);
