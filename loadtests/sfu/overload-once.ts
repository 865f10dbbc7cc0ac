/**
 * One run of the overload scenario in a process of its own, for overload-compare.ts: the bots and
 * the measurement are this tree's; with --tree=<checkout> the CareCall node (and the signaling client
 * that speaks its protocol) come from that checkout instead, so an older commit runs the identical
 * scenario. Prints the OverloadResult as JSON on stdout, plus mediasoup's version as loaded.
 * Options: --target=app|bare --tree=<path> --subscribers --hold-seconds --window-seconds --stats-interval-ms
 */
import WebSocket from 'ws';
import { resolve } from 'node:path';
import * as mediasoup from 'mediasoup';
import type { ConnectSignaling } from './app-control.ts';
import { appOverload, bareOverload, type AppUnderTest } from './overload.ts';

const args = new Map(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k!, v ?? ''] as const;
  }),
);
const num = (name: string, fallback: number) => (args.has(name) ? Number(args.get(name)) : fallback);
const target = args.get('target');
if (target !== 'app' && target !== 'bare') throw new Error('--target=app|bare');
const opts = {
  subscribers: num('subscribers', 400),
  holdMs: num('hold-seconds', 40) * 1000,
  windowMs: num('window-seconds', 5) * 1000,
  statsIntervalMs: num('stats-interval-ms', 3000),
  log: (line: string) => process.stderr.write(`[overload ${target}] ${line}\n`),
};

/** The node and signaling client of a checkout, started exactly as phases.ts starts this tree's. */
async function appFromTree(tree: string): Promise<AppUnderTest> {
  const { loadConfig } = await import(resolve(tree, 'server/config.ts'));
  const { createLogger } = await import(resolve(tree, 'server/logger.ts'));
  const { CareCallNode } = await import(resolve(tree, 'server/node.ts'));
  const { SignalingClient } = await import(resolve(tree, 'web-client/src/signaling-client.ts'));
  const connectSignaling: ConnectSignaling = (url, token) =>
    SignalingClient.connect(url, token, (u: string, protocols: string[]) => new WebSocket(u, protocols));
  const startAppNode = () =>
    CareCallNode.start(
      loadConfig({
        HOST: '127.0.0.1',
        PORT: '0',
        SFU_WORKERS: '1',
        PGLITE_DIR: 'memory://',
        DEMO: 'off',
        LOG_LEVEL: 'warn',
      }),
      createLogger('warn'),
      // One big room measures the SFU, not the 8-person consultation limit (bare mediasoup has none).
      { roomCapacity: 10_000 },
    );
  return { startAppNode, connectSignaling };
}

const tree = args.get('tree');
const result =
  target === 'bare'
    ? await bareOverload(opts)
    : await appOverload(opts, tree ? await appFromTree(tree) : undefined);
process.stdout.write(`${JSON.stringify({ mediasoupVersion: mediasoup.version, result })}\n`);
process.exit(0);
