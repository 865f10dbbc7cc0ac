import type { types } from 'mediasoup';
import type { Subscriber } from './bot.ts';

export type RampLimits = {
  subscribersPerStep: number;
  maxConsumers: number;
  /** The whole ramp stops by itself after this long, whatever happened. */
  budgetMs: number;
  settleMs: number;
  windowMs: number;
  maxLossPct: number;
  /** Fraction of one core at which the worker (or the bot process) counts as saturated. */
  saturation: number;
};

export type StepResult = {
  subscribers: number;
  consumers: number;
  failedJoins: number;
  workerCpu: number;
  botProcessCpu: number;
  botLossPct: number;
  sfuLossPct: number;
  sfuPacketsPerSec: number;
  /** The CareCall node process itself (signaling, rooms), when it runs apart from the bots. */
  nodeCpu?: number | undefined;
};

export type RampResult = {
  steps: StepResult[];
  stoppedBecause:
    'loss' | 'worker_saturated' | 'bots_saturated' | 'max_consumers' | 'time_budget' | 'joins_failing';
  sustained: StepResult | undefined;
  /** Sustained consumers divided by the worker's share of a core at that step. */
  consumersPerCore: number | undefined;
  /** True when the worker was below saturation, so consumersPerCore is a CPU-normalised projection. */
  extrapolated: boolean;
};

type RampDeps = {
  /** The one worker whose CPU counts; or `cpuMs`, for an SFU of several processes. */
  worker?: types.Worker;
  /** CPU time (ms) of everything that serves the media (every worker, the node process). */
  cpuMs?: () => Promise<number>;
  /** CPU time (ms) of the node process alone, reported beside. */
  nodeCpuMs?: () => Promise<number>;
  /** Cores the SFU may use (its workers): saturation is reached at `saturation` x this. Default 1. */
  cores?: number;
  addSubscriber: () => Promise<Subscriber>;
  /** The SFU's consumers, for its own loss counters; absent when the SFU is another process. */
  consumers?: () => Iterable<types.Consumer>;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const JOIN_CONCURRENCY = 10; // more simultaneous DTLS handshakes make werift clients fail (shared notes)
const JOIN_ATTEMPTS = 3;

async function workerCpuMs(worker: types.Worker) {
  const u = await worker.getResourceUsage();
  return u.ru_utime + u.ru_stime;
}

async function sfuCounters(consumers: Iterable<types.Consumer> | undefined) {
  if (!consumers) return undefined;
  let sent = 0;
  let lost = 0;
  await Promise.all(
    [...consumers].map(async (c) => {
      for (const s of await c.getStats()) {
        if (s.type !== 'outbound-rtp') continue;
        sent += s.packetCount;
        lost += s.packetsLost; // cumulative, from the bots' RTCP receiver reports
      }
    }),
  );
  return { sent, lost };
}

function botCounters(subs: Subscriber[]) {
  let received = 0;
  let expected = 0;
  for (const s of subs) for (const c of s.counters) ((received += c.received), (expected += c.expected));
  return { received, expected };
}

export async function addBatch(n: number, add: () => Promise<Subscriber>) {
  const added: Subscriber[] = [];
  let failed = 0;
  let next = 0;
  const lane = async () => {
    while (next < n) {
      next++;
      for (let attempt = 1; ; attempt++) {
        try {
          added.push(await add());
          break;
        } catch {
          if (attempt >= JOIN_ATTEMPTS) {
            failed++;
            break;
          }
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(JOIN_CONCURRENCY, n) }, lane));
  return { added, failed };
}

/** Adds subscribers step by step, measuring each step, until loss, saturation, a cap, or the budget. */
export async function ramp(
  deps: RampDeps,
  limits: RampLimits,
  log: (line: string) => void,
): Promise<RampResult> {
  const started = Date.now();
  const subs: Subscriber[] = [];
  const steps: StepResult[] = [];
  let stoppedBecause: RampResult['stoppedBecause'] = 'time_budget';
  try {
    for (;;) {
      if (Date.now() - started > limits.budgetMs) break;
      const { added, failed } = await addBatch(limits.subscribersPerStep, deps.addSubscriber);
      subs.push(...added);
      await sleep(limits.settleMs);
      const cpu = deps.cpuMs ?? (() => workerCpuMs(deps.worker!));
      const cpu0 = await cpu();
      const node0 = await deps.nodeCpuMs?.();
      const proc0 = process.cpuUsage();
      const bot0 = botCounters(subs);
      const sfu0 = await sfuCounters(deps.consumers?.());
      const t0 = performance.now();
      await sleep(limits.windowMs);
      const cpu1 = await cpu();
      const node1 = await deps.nodeCpuMs?.();
      const proc = process.cpuUsage(proc0);
      const bot1 = botCounters(subs);
      const sfu1 = await sfuCounters(deps.consumers?.());
      const elapsed = performance.now() - t0;
      const expected = bot1.expected - bot0.expected;
      const sent = sfu0 && sfu1 ? sfu1.sent - sfu0.sent : 0;
      const sfuLost = sfu0 && sfu1 ? Math.max(0, sfu1.lost - sfu0.lost) : 0;
      const step: StepResult = {
        subscribers: subs.length,
        consumers: subs.reduce((n, s) => n + s.consumerCount, 0),
        failedJoins: failed,
        workerCpu: round((cpu1 - cpu0) / elapsed, 3),
        botProcessCpu: round((proc.user + proc.system) / 1000 / elapsed, 3),
        botLossPct: round(
          expected > 0 ? (100 * (expected - (bot1.received - bot0.received))) / expected : 100,
          2,
        ),
        sfuLossPct: sfu0 ? round(sent > 0 ? (100 * sfuLost) / sent : 100, 2) : 0,
        sfuPacketsPerSec: Math.round((sent * 1000) / elapsed),
        nodeCpu: node0 !== undefined && node1 !== undefined ? round((node1 - node0) / elapsed, 3) : undefined,
      };
      steps.push(step);
      log(JSON.stringify(step));
      if (step.botLossPct > limits.maxLossPct || step.sfuLossPct > limits.maxLossPct) {
        stoppedBecause = 'loss';
        break;
      }
      if (step.workerCpu >= limits.saturation * (deps.cores ?? 1)) {
        stoppedBecause = 'worker_saturated';
        break;
      }
      if (step.botProcessCpu >= limits.saturation) {
        stoppedBecause = 'bots_saturated';
        break;
      }
      if (added.length === 0) {
        stoppedBecause = 'joins_failing';
        break;
      }
      if (step.consumers >= limits.maxConsumers) {
        stoppedBecause = 'max_consumers';
        break;
      }
    }
  } finally {
    for (const s of subs) s.close();
  }
  const passing = steps.filter((s) => s.botLossPct <= limits.maxLossPct && s.sfuLossPct <= limits.maxLossPct);
  const sustained = passing.at(-1);
  const consumersPerCore =
    sustained && sustained.workerCpu > 0
      ? Math.round(sustained.consumers / Math.min(deps.cores ?? 1, sustained.workerCpu))
      : undefined;
  return {
    steps,
    stoppedBecause,
    sustained,
    consumersPerCore,
    extrapolated: !!sustained && sustained.workerCpu < limits.saturation * (deps.cores ?? 1),
  };
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;
