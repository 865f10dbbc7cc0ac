/**
 * Same-run before/after figure for the overload work: the identical scenario (one publisher, N
 * subscribers in one room with the room cap raised, busy processes competing for the CPU, subscribers
 * reporting link stats like the room page) against bare mediasoup, CareCall at the commit before the
 * overload fix (a temporary git worktree) and CareCall as checked out, alternating, several rounds.
 * Each run is a fresh process (overload-once.ts), so one run's leftovers cannot slow the next.
 * Run it under `flock /tmp/carecall-heavy.lock`. Prints JSON and a table.
 * Options: --rounds=3 --subscribers=400 --cpu-hogs=4 --hold-seconds=40 --window-seconds=5
 * --stats-interval-ms=3000 --before=<commit> (default: the parent of the commit that added
 * sfu/transport-watch.ts, the overload fix)
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, realpathSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startCpuHogs } from './cpu-hogs.ts';
import type { OverloadResult } from './overload.ts';

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k!, v ?? ''] as const;
  }),
);
const num = (name: string, fallback: number) => (args.has(name) ? Number(args.get(name)) : fallback);
const log = (line: string) => process.stderr.write(`[compare] ${line}\n`);
const git = (...a: string[]) => execFileSync('git', a, { encoding: 'utf8' }).trim();

const root = git('rev-parse', '--show-toplevel');
const rounds = num('rounds', 3);
const cpuHogs = num('cpu-hogs', 4);
const scenario = {
  subscribers: num('subscribers', 400),
  holdSeconds: num('hold-seconds', 40),
  windowSeconds: num('window-seconds', 5),
  statsIntervalMs: num('stats-interval-ms', 3000),
};
const fixCommit = git('log', '--diff-filter=A', '--format=%H', '--', 'sfu/transport-watch.ts')
  .split('\n')
  .at(-1)!;
const before = git('rev-parse', args.get('before') || `${fixCommit}^`);
const after = git('rev-parse', 'HEAD');

type Target = 'bare' | 'before' | 'after';
type Run = {
  round: number;
  target: Target;
  seconds: number;
  mediasoupVersion: string;
  result: OverloadResult;
};

/** The worker binary both trees start: they share node_modules, unless MEDIASOUP_WORKER_BIN says otherwise. */
function workerBinary() {
  const path =
    process.env.MEDIASOUP_WORKER_BIN ??
    resolve(root, 'node_modules/mediasoup/worker/out/Release/mediasoup-worker');
  return { path: realpathSync(path), sha256: createHash('sha256').update(readFileSync(path)).digest('hex') };
}

/** mediasoup's version as each tree pins it (package.json) and resolves it (package-lock.json). */
function pinnedMediasoup(commit: string) {
  const pkg = JSON.parse(git('show', `${commit}:package.json`));
  const lock = JSON.parse(git('show', `${commit}:package-lock.json`));
  return {
    declared: pkg.dependencies?.mediasoup,
    locked: lock.packages?.['node_modules/mediasoup']?.version,
  };
}

function runOnce(target: Target, tree: string): Promise<Omit<Run, 'round' | 'target' | 'seconds'>> {
  const cliArgs = [
    resolve(root, 'loadtests/sfu/overload-once.ts'),
    `--target=${target === 'bare' ? 'bare' : 'app'}`,
    ...(target === 'bare' ? [] : [`--tree=${tree}`]),
    `--subscribers=${scenario.subscribers}`,
    `--hold-seconds=${scenario.holdSeconds}`,
    `--window-seconds=${scenario.windowSeconds}`,
    `--stats-interval-ms=${scenario.statsIntervalMs}`,
  ];
  return new Promise((ok, fail) => {
    const child = spawn(resolve(root, 'node_modules/.bin/tsx'), cliArgs, {
      cwd: tree,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', fail);
    child.on('exit', (code) => {
      const line = out.split('\n').findLast((l) => l.startsWith('{"mediasoupVersion"'));
      if (code === 0 && line) ok(JSON.parse(line));
      else fail(new Error(`${target} run exited ${code}`));
    });
  });
}

const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
/** A carecall_* counter summed over its labels; undefined when the node has no such metric (older code). */
const metric = (r: OverloadResult, name: string) => {
  const samples = Object.entries(r.serverMetrics ?? {}).filter(
    ([k]) => k === name || k.startsWith(`${name}{`),
  );
  return samples.length ? samples.reduce((n, [, v]) => n + v, 0) : undefined;
};

/** The figures the brief asks for, per run. */
function summary(run: Run) {
  const r = run.result;
  const last = r.windows.at(-1);
  return {
    round: run.round,
    target: run.target,
    joined: r.joined,
    receivingAtEnd: last?.receiving ?? 0,
    silentAtEnd: last?.silent ?? r.joined,
    lossPct: r.lossPct,
    botConnectionsClosed: sum(r.signalingClosed),
    // ICE consent lost shows as ice_disconnected; counters the old code did not have are absent.
    iceDisconnected: metric(r, 'carecall_sfu_transport_events_total{event="ice_disconnected"}'),
    receiveStalled: metric(r, 'carecall_sfu_transport_events_total{event="receive_stalled"}'),
    udpReceiveDropsMetric: metric(r, 'carecall_sfu_udp_receive_drops'),
    slowClientCloses: metric(r, 'carecall_signaling_slow_client_closes_total'),
    notificationsCoalesced: metric(r, 'carecall_signaling_notifications_coalesced_total'),
    kernelDropsSfuPorts: r.udpDrops.server,
    sfuPorts: r.udpDrops.serverPorts,
    roomWentSilent: r.windows.some((w) => w.receiving + w.degraded === 0),
    seconds: run.seconds,
  };
}

const startedAt = new Date().toISOString();
const loadBefore = loadavg();
const tmp = mkdtempSync(join(tmpdir(), 'carecall-overload-before-'));
const beforeTree = join(tmp, 'tree');
const stopHogs = startCpuHogs(cpuHogs);
const cleanUp = () => {
  stopHogs();
  try {
    git('worktree', 'remove', '--force', beforeTree);
  } catch {
    // Never added, or already gone: the directory goes below either way.
  }
  rmSync(tmp, { recursive: true, force: true });
};
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    cleanUp();
    process.exit(1);
  });

const runs: Run[] = [];
let mediasoupCheck: Record<string, unknown> = {};
try {
  git('worktree', 'add', '--detach', beforeTree, before);
  symlinkSync(realpathSync(resolve(root, 'node_modules')), join(beforeTree, 'node_modules'));
  mediasoupCheck = {
    before: pinnedMediasoup(before),
    after: pinnedMediasoup(after),
    workerBinary: workerBinary(),
  };
  log(`before ${before.slice(0, 7)}, after ${after.slice(0, 7)}: ${JSON.stringify(mediasoupCheck)}`);
  const { before: b, after: a } = mediasoupCheck as Record<'before' | 'after', { locked: string }>;
  if (b.locked !== a.locked) throw new Error(`mediasoup differs: before ${b.locked}, after ${a.locked}`);
  const trees: Record<Target, string> = { bare: root, before: beforeTree, after: root };
  for (let round = 1; round <= rounds; round++)
    for (const target of ['bare', 'before', 'after'] as const) {
      log(`round ${round}: ${target}`);
      const t0 = Date.now();
      const once = await runOnce(target, trees[target]);
      runs.push({ round, target, seconds: Math.round((Date.now() - t0) / 1000), ...once });
      log(`round ${round}: ${target} ${JSON.stringify(summary(runs.at(-1)!))}`);
    }
} finally {
  cleanUp();
}

const versions = new Set(runs.map((r) => r.mediasoupVersion));
const result = {
  benchmark: 'carecall-sfu-overload-compare',
  startedAt,
  finishedAt: new Date().toISOString(),
  machine: { cpus: cpus().length, loadavgBefore: loadBefore, loadavgAfter: loadavg(), node: process.version },
  setup: {
    ...scenario,
    rounds,
    cpuHogs,
    before,
    after,
    mediasoup: { ...mediasoupCheck, loaded: [...versions] },
  },
  summary: runs.map(summary),
  runs,
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
const rows = result.summary.map(
  (s) =>
    `| ${s.round} | ${s.target} | ${s.joined} | ${s.receivingAtEnd} | ${s.lossPct.p50} / ${s.lossPct.p95} / ${s.lossPct.max} | ${s.botConnectionsClosed} | ${s.iceDisconnected ?? '-'} / ${s.receiveStalled ?? '-'} | ${s.kernelDropsSfuPorts} (${s.sfuPorts} ports) | ${s.slowClientCloses ?? '-'} / ${s.notificationsCoalesced ?? '-'} | ${s.roomWentSilent ? 'yes' : 'no'} | ${s.seconds} |`,
);
process.stdout.write(
  [
    '',
    '| round | SFU | joined | receiving at end | loss % per subscriber p50 / p95 / max | bot connections closed | ICE disconnected / receive stalled | kernel UDP drops, SFU ports | slow-client closes / coalesced | room silent | s |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n'),
);
process.exit(0);
