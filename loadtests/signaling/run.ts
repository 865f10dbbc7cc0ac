/**
 * Signaling tier benchmark: the same CareCall node on uWebSockets.js and on ws (node:http), same run.
 * Measures authenticated upgrades per second (EdDSA token check before upgrade) and request round
 * trips per second (small error responses, and getRouterRtpCapabilities ~5 KB responses).
 * Loopback only; bounded in count and time.
 */
import { cpus } from 'node:os';
import WebSocket from 'ws';
import { loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { CareCallNode } from '../../server/node.ts';
import { randomBytes } from 'node:crypto';
import { percentile } from '../stats.ts';
import { closeCode, signalingProtocols } from '../../signaling/protocol/index.ts';

const CLIENTS = Number(process.env.CLIENTS ?? 100);
const REQUESTS_PER_CLIENT = Number(process.env.REQUESTS ?? 200);
const IN_FLIGHT = 8;

type Result = {
  server: string;
  upgradesPerSec: number;
  smallReqPerSec: number;
  capsReqPerSec: number;
  p50Ms: number;
  p99Ms: number;
};

async function bench(kind: 'uws' | 'ws'): Promise<Result> {
  const config = loadConfig({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    SFU_WORKERS: '1',
    PGLITE_DIR: 'memory://',
    DEMO: 'off',
    SOCKET_SERVER: kind,
    LOG_LEVEL: 'error',
  });
  const node = await CareCallNode.start(config, createLogger('error'));
  try {
    const room = randomBytes(12).toString('base64url');
    const tokens = await Promise.all(
      Array.from({ length: CLIENTS }, (_, i) =>
        node.issuer.mint({ sub: `bot${i}`, room, role: 'guest', perms: ['subscribe'] }),
      ),
    );
    const url = `ws://127.0.0.1:${node.port}/ws`;
    let started = performance.now();
    const sockets = await Promise.all(
      tokens.map(
        (t) =>
          new Promise<WebSocket>((resolve, reject) => {
            const ws = new WebSocket(url, signalingProtocols({ kind: 'join', token: t }), {
              perMessageDeflate: false,
            });
            ws.once('open', () => resolve(ws));
            ws.once('error', reject);
          }),
      ),
    );
    const upgradesPerSec = CLIENTS / ((performance.now() - started) / 1000);

    const latencies: number[] = [];
    const run = async (method: string) => {
      started = performance.now();
      await Promise.all(sockets.map((ws) => drive(ws, method, latencies)));
      return (CLIENTS * REQUESTS_PER_CLIENT) / ((performance.now() - started) / 1000);
    };
    const smallReqPerSec = await run('noSuchMethod'); // answered with a small typed error
    const capsReqPerSec = await run('getRouterRtpCapabilities');
    latencies.sort((a, b) => a - b);
    sockets.forEach((ws) => ws.close(closeCode('client_left')));
    return {
      server: kind,
      upgradesPerSec: Math.round(upgradesPerSec),
      smallReqPerSec: Math.round(smallReqPerSec),
      capsReqPerSec: Math.round(capsReqPerSec),
      p50Ms: round(percentile(latencies, 50)),
      p99Ms: round(percentile(latencies, 99)),
    };
  } finally {
    await node.stop();
  }
}

/** Keeps IN_FLIGHT requests outstanding on one socket until REQUESTS_PER_CLIENT are answered. */
function drive(ws: WebSocket, method: string, latencies: number[]) {
  return new Promise<void>((resolve, reject) => {
    let next = 1;
    let done = 0;
    const sentAt = new Map<number, number>();
    const send = () => {
      const id = next++;
      sentAt.set(id, performance.now());
      ws.send(`{"type":"request","id":${id},"method":"${method}","data":{}}`);
    };
    const timer = setTimeout(() => reject(new Error('benchmark timed out')), 60_000);
    ws.on('message', function onMessage(raw) {
      const frame = JSON.parse(String(raw)) as { type: string; id?: number };
      if (frame.type !== 'response' || frame.id === undefined) return;
      latencies.push(performance.now() - sentAt.get(frame.id)!);
      sentAt.delete(frame.id);
      if (++done === REQUESTS_PER_CLIENT) {
        clearTimeout(timer);
        ws.off('message', onMessage);
        return resolve();
      }
      if (next <= REQUESTS_PER_CLIENT) send();
    });
    for (let i = 0; i < IN_FLIGHT && next <= REQUESTS_PER_CLIENT; i++) send();
  });
}

const round = (n: number) => Math.round(n * 100) / 100;

const results = [await bench('uws'), await bench('ws')];
const output = {
  benchmark: 'signaling',
  clients: CLIENTS,
  requestsPerClient: REQUESTS_PER_CLIENT,
  inFlightPerClient: IN_FLIGHT,
  machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
  results,
};
console.log(JSON.stringify(output, null, 2));
console.log('\nserver | upgrades/s | small req/s | caps req/s | p50 ms | p99 ms');
for (const r of results)
  console.log(
    `${r.server.padEnd(6)} | ${String(r.upgradesPerSec).padStart(10)} | ${String(r.smallReqPerSec).padStart(11)} | ${String(r.capsReqPerSec).padStart(10)} | ${String(r.p50Ms).padStart(6)} | ${String(r.p99Ms).padStart(6)}`,
  );
