import { randomBytes } from 'node:crypto';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import { readFileSync } from 'node:fs';
import { percentile } from '../stats.ts';
import { udpSocketStats } from '../../sfu/udp-socket-stats.ts';
import { AppControl, type ConnectSignaling } from './app-control.ts';
import { BareRoom } from './bare-control.ts';
import { Publisher, Subscriber } from './bot.ts';
import { startAppNode } from './phases.ts';
import { addBatch } from './ramp.ts';
import { removeBotPolyfill } from './werift-env.ts';

export type OverloadOptions = {
  subscribers: number;
  holdMs: number;
  windowMs: number;
  /** Subscribers report link stats every this many ms, as the room page does (3000); 0 = never. */
  statsIntervalMs: number;
  log: (line: string) => void;
};

/**
 * Like the room page's stats reporting: the loss this bot saw since its last report, and the round
 * trip of its previous report (the signaling path; werift does not expose the media RTT).
 */
function startStatsReports(sub: Subscriber, intervalMs: number): () => void {
  if (intervalMs <= 0 || !sub.control.reportStats) return () => {};
  let lastRttMs = 0;
  let last = { received: sub.received, expected: sub.counters.reduce((n, c) => n + c.expected, 0) };
  const report = () => {
    const now = { received: sub.received, expected: sub.counters.reduce((n, c) => n + c.expected, 0) };
    const expected = now.expected - last.expected;
    const lossPct =
      expected > 0
        ? Math.max(0, Math.min(100, (100 * (expected - (now.received - last.received))) / expected))
        : 0;
    last = now;
    const t0 = performance.now();
    sub.control.reportStats!(Math.min(60_000, lastRttMs), Math.round(lossPct * 10) / 10)
      .then(() => (lastRttMs = Math.round(performance.now() - t0)))
      .catch(() => undefined);
  };
  let timer: NodeJS.Timeout | undefined;
  // Spread over the interval, as independent clients are.
  const start = setTimeout(() => (timer = setInterval(report, intervalMs)), Math.random() * intervalMs);
  return () => {
    clearTimeout(start);
    clearInterval(timer);
  };
}

/** One measurement window: how the subscribers fared against what the publisher sent. */
export type OverloadWindow = {
  atSeconds: number;
  /** Got at least half of what was sent. */
  receiving: number;
  /** Got something, but less than half. */
  degraded: number;
  /** Got (almost) nothing: under 1 %. */
  silent: number;
  medianPct: number;
  workerCpu: number;
};

export type OverloadResult = {
  joined: number;
  failedJoins: number;
  windows: OverloadWindow[];
  /** Each subscriber's share of what was sent over the whole hold, in %. */
  perSubscriberPct: { min: number; p10: number; p50: number; max: number };
  /** Each subscriber's loss over the whole hold (100 % minus its share), in %. */
  lossPct: { p50: number; p95: number; max: number };
  /** Subscribers whose signaling connection the server closed, by close code. */
  signalingClosed: Record<string, number>;
  /** Subscribers whose transport was not 'connected' at the end, by state. */
  transportsNotConnected: Record<string, number>;
  /**
   * Datagrams the kernel dropped during the hold because a socket's receive buffer was full: on the
   * SFU's media ports, and on every other UDP socket of the machine (mostly the bots).
   */
  udpDrops: { serverPorts: number; server: number; otherSockets: number; rcvbufErrorsMachine: number };
  /** The node's own carecall_* metrics at the end (app only). */
  serverMetrics?: Record<string, number>;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round1 = (x: number) => Math.round(x * 10) / 10;

async function workerCpuMs(worker: types.Worker) {
  const u = await worker.getResourceUsage();
  return u.ru_utime + u.ru_stime;
}

function tally(values: Iterable<string | number | undefined>) {
  const out: Record<string, number> = {};
  for (const v of values) if (v !== undefined) out[String(v)] = (out[String(v)] ?? 0) + 1;
  return out;
}

/** Joins every subscriber, then watches them for the hold period in windows. */
async function overloadRoom(
  publisher: Publisher,
  worker: types.Worker,
  addSubscriber: () => Promise<Subscriber>,
  opts: OverloadOptions,
  label: string,
): Promise<OverloadResult> {
  const { added: subs, failed } = await addBatch(opts.subscribers, addSubscriber);
  opts.log(`${label} ${subs.length} subscribers joined, ${failed} failed`);
  const stopReports = subs.map((s) => startStatsReports(s, opts.statsIntervalMs));
  try {
    const windows: OverloadWindow[] = [];
    const serverPorts = [
      ...new Set(subs.flatMap((s) => (s.serverUdpPort === undefined ? [] : [s.serverUdpPort]))),
    ].sort();
    const drops0 = dropsSplit(serverPorts);
    const startSent = publisher.sent;
    const startReceived = subs.map((s) => s.received);
    const started = Date.now();
    while (Date.now() - started < opts.holdMs) {
      const sent0 = publisher.sent;
      const got0 = subs.map((s) => s.received);
      const cpu0 = await workerCpuMs(worker);
      const t0 = performance.now();
      await sleep(opts.windowMs);
      const cpu1 = await workerCpuMs(worker);
      const sent = Math.max(1, publisher.sent - sent0);
      const shares = subs.map((s, i) => (s.received - got0[i]!) / sent).sort((a, b) => a - b);
      const window: OverloadWindow = {
        atSeconds: Math.round((Date.now() - started) / 1000),
        receiving: shares.filter((x) => x >= 0.5).length,
        degraded: shares.filter((x) => x >= 0.01 && x < 0.5).length,
        silent: shares.filter((x) => x < 0.01).length,
        medianPct: shares.length ? round1(100 * percentile(shares, 50)) : 0,
        workerCpu: Math.round(((cpu1 - cpu0) / (performance.now() - t0)) * 1000) / 1000,
      };
      windows.push(window);
      opts.log(`${label} ${JSON.stringify(window)}`);
    }
    const drops1 = dropsSplit(serverPorts);
    const totalSent = Math.max(1, publisher.sent - startSent);
    const whole = subs
      .map((s, i) => (100 * (s.received - startReceived[i]!)) / totalSent)
      .sort((a, b) => a - b);
    const at = (p: number) => (whole.length ? round1(Math.min(100, percentile(whole, p))) : 0);
    return {
      joined: subs.length,
      failedJoins: failed,
      windows,
      perSubscriberPct: { min: at(0), p10: at(10), p50: at(50), max: at(100) },
      // Loss p95 is the share's p5: the 5 % of subscribers that got least.
      lossPct: whole.length
        ? { p50: round1(100 - at(50)), p95: round1(100 - at(5)), max: round1(100 - at(0)) }
        : { p50: 100, p95: 100, max: 100 },
      signalingClosed: tally(subs.map((s) => s.control.closedWith)),
      udpDrops: {
        serverPorts: serverPorts.length,
        server: drops1.server - drops0.server,
        otherSockets: drops1.other - drops0.other,
        rcvbufErrorsMachine: drops1.rcvbufErrors - drops0.rcvbufErrors,
      },
      transportsNotConnected: tally(
        subs.map((s) => (s.connectionState === 'connected' ? undefined : s.connectionState)),
      ),
    };
  } finally {
    stopReports.forEach((stop) => stop());
    for (const s of subs) s.close();
  }
}

/** Receive-buffer drops now: on the given (server) ports, on all other UDP sockets, and machine-wide. */
function dropsSplit(serverPorts: number[]) {
  let server = 0;
  let other = 0;
  for (const [port, s] of udpSocketStats()) {
    if (serverPorts.includes(port)) server += s.drops;
    else other += s.drops;
  }
  const snmp = readFileSync('/proc/net/snmp', 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('Udp:'));
  const names = snmp[0]?.split(/\s+/) ?? [];
  const values = snmp[1]?.split(/\s+/) ?? [];
  const rcvbufErrors = Number(values[names.indexOf('RcvbufErrors')] ?? 0);
  return { server, other, rcvbufErrors };
}

/** carecall_* samples from the node's /metrics (loopback is allowed by default), summed over labels. */
async function carecallMetrics(baseUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(carecall_[a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
    if (m) out[m[1]! + (m[2] ?? '')] = Number(m[3]);
  }
  return out;
}

/**
 * What the app phase needs from a CareCall tree: a node started the way production does, and that
 * tree's signaling client. The before/after comparison loads both from an older checkout.
 */
export type AppUnderTest = {
  startAppNode: () => ReturnType<typeof startAppNode>;
  connectSignaling?: ConnectSignaling;
};

/** One publisher and many subscribers in one room of a full CareCall node. */
export async function appOverload(
  opts: OverloadOptions,
  app: AppUnderTest = { startAppNode },
): Promise<OverloadResult> {
  const node = await app.startAppNode();
  let publisher: Publisher | undefined;
  try {
    const wsUrl = `ws://127.0.0.1:${node.port}/ws`;
    const room = randomBytes(12).toString('base64url');
    let n = 0;
    const control = async (role: 'doctor' | 'patient', perms: ('publish' | 'subscribe')[]) =>
      AppControl.connect(
        wsUrl,
        await node.issuer.mint({ sub: `bot-${++n}`, room, role, perms: [...perms, 'admit'] }),
        app.connectSignaling,
      );
    publisher = await Publisher.start(await control('doctor', ['publish', 'subscribe']));
    const result = await overloadRoom(
      publisher,
      node.pool.workers[0]!.worker,
      async () => Subscriber.start(await control('patient', ['subscribe'])),
      opts,
      'app ',
    );
    return { ...result, serverMetrics: await carecallMetrics(`http://127.0.0.1:${node.port}`) };
  } finally {
    publisher?.close();
    await node.stop();
    removeBotPolyfill();
  }
}

/** The same bots on bare mediasoup (a transport per peer, each on its own port). */
export async function bareOverload(opts: OverloadOptions): Promise<OverloadResult> {
  const worker = await mediasoup.createWorker({ logLevel: 'warn' });
  let publisher: Publisher | undefined;
  try {
    const room = await BareRoom.create(worker);
    publisher = await Publisher.start(room.control());
    return await overloadRoom(publisher, worker, () => Subscriber.start(room.control()), opts, 'bare');
  } finally {
    publisher?.close();
    worker.close();
    removeBotPolyfill();
  }
}
