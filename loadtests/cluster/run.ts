// Cluster load test: real node processes (server/main.ts) sharing one PostgreSQL database and one
// Redis, with 1, 2 and 3 nodes. Measures joins/s (sockets spread round-robin over the nodes, rooms
// of two, each client connects, asks for the router's capabilities and joins, CONCURRENCY at a
// time) and the round trip of one request (reportStats, a small frame answered at once) from a
// client on the room's node (local) and from a client on another node (relayed over Redis, signed
// both ways). Target: relayed p99 <= local p99 + 2 ms.
// Usage: npm run loadtest:cluster. Env: JOINS (60), CONCURRENCY (6), ROUND_TRIPS (400), TEST_REDIS_URL.
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { JoinTokenIssuer, loadJoinTokenKeys } from '../../server/media/join-tokens.ts';
import { TEST_REDIS_URL } from '../../test/helpers/env.ts';
import { ed25519Pem, startNodeProcess, type NodeProcess } from '../../test/helpers/node-process.ts';
import { createTestDatabase } from '../../test/helpers/pg.ts';
import { createBus } from '../../server/bus/create-bus.ts';
import { SignalingClient, type WebSocketLike } from '../../web-client/src/signaling-client.ts';
import { latencySummary } from '../stats.ts';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const JOINS = env('JOINS', 60);
const CONCURRENCY = env('CONCURRENCY', 6);
const ROUND_TRIPS = env('ROUND_TRIPS', 400);
const pem = ed25519Pem();
const issuer = new JoinTokenIssuer(loadJoinTokenKeys(pem), 600);
const socket = (u: string, p: string[]) => new WebSocket(u, p) as unknown as WebSocketLike;
const wsUrl = (n: NodeProcess) => `ws://127.0.0.1:${n.port}/ws`;
const nodeIdOf = (n: NodeProcess) => n.lines.find((l) => l.msg === 'bus ready')?.nodeId as string;
const newRoom = () => randomBytes(12).toString('base64url');

async function enter(url: string, room: string, sub: string) {
  const token = await issuer.mint({ sub, room, role: 'doctor', perms: ['publish', 'subscribe', 'admit'] });
  const client = await SignalingClient.connect(url, token, socket);
  const { rtpCapabilities } = await client.request('getRouterRtpCapabilities', {});
  await client.request('join', { rtpCapabilities: rtpCapabilities as never });
  return client;
}

async function roundTrips(client: SignalingClient) {
  const samples: number[] = [];
  for (let i = 0; i < ROUND_TRIPS + 20; i++) {
    const t0 = performance.now();
    await client.request('reportStats', { rttMs: 20, packetLossPct: 0 });
    if (i >= 20) samples.push(performance.now() - t0); // the first ones warm up JIT and connections
  }
  return latencySummary(samples);
}

type Row = {
  nodes: number;
  joinsPerSecond: number;
  joinP99Ms: number;
  local: ReturnType<typeof latencySummary>;
  relayed: ReturnType<typeof latencySummary> | null;
};
const rows: Row[] = [];
const database = await createTestDatabase();
const prefix = `loadtest:${randomBytes(4).toString('hex')}:`;
const observer = await createBus(TEST_REDIS_URL, prefix);
const nodes: NodeProcess[] = [];
try {
  for (const count of [1, 2, 3]) {
    while (nodes.length < count)
      nodes.push(
        await startNodeProcess({
          DATABASE_URL: database.url,
          REDIS_URL: TEST_REDIS_URL,
          REDIS_PREFIX: prefix,
          JOIN_TOKEN_PRIVATE_KEY: pem,
          SCHEDULING_WORKER: 'off',
          JOIN_TOKEN_MAX_SOCKETS: '3',
        }),
      );
    // Joins: rooms of two, the two sockets of a room on different nodes when there are several.
    const clients: SignalingClient[] = [];
    const joinTimes: number[] = [];
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (let i = next++; i < JOINS; i = next++) {
          const room = `joinroom-${count}-${Math.floor(i / 2)}`;
          const t0 = performance.now();
          clients.push(await enter(wsUrl(nodes[i % nodes.length]!), room, `p${i}`));
          joinTimes.push(performance.now() - t0);
        }
      }),
    );
    const joinsPerSecond = Math.round((JOINS / ((performance.now() - started) / 1000)) * 10) / 10;
    for (const c of clients) c.close();

    const room = newRoom();
    const local0 = await enter(wsUrl(nodes[0]!), room, 'local');
    const ownerId = await observer.roomOwner(room);
    const ownerNode = nodes.find((n) => nodeIdOf(n) === ownerId)!;
    const local = ownerNode === nodes[0] ? local0 : await enter(wsUrl(ownerNode), room, 'local-owner');
    const other = nodes.find((n) => n !== ownerNode);
    const relayedClient = other ? await enter(wsUrl(other), room, 'relayed') : undefined;
    const localRtt = await roundTrips(local);
    const relayedRtt = relayedClient ? await roundTrips(relayedClient) : null;
    for (const c of [local0, local, relayedClient]) c?.close();
    rows.push({
      nodes: count,
      joinsPerSecond,
      joinP99Ms: latencySummary(joinTimes).p99,
      local: localRtt,
      relayed: relayedRtt,
    });
  }
} finally {
  await Promise.all(nodes.map((n) => n.stop()));
  await observer.close();
  await database.drop();
}

const overheadP99 = rows.filter((r) => r.relayed).map((r) => r.relayed!.p99 - r.local.p99);
const result = {
  joins: JOINS,
  concurrency: CONCURRENCY,
  roundTrips: ROUND_TRIPS,
  rows,
  target: { relayedP99AboveLocalMs: 2, worstMs: Math.round(Math.max(...overheadP99) * 10) / 10 },
  met: overheadP99.every((o) => o <= 2),
};
console.log(JSON.stringify(result, null, 2));
console.log(
  '\nnodes | joins/s | join p99 ms | local p50/p99 ms | relayed p50/p99 ms | relayed p99 - local p99',
);
for (const r of rows)
  console.log(
    `${r.nodes}     | ${r.joinsPerSecond} | ${r.joinP99Ms} | ${r.local.p50}/${r.local.p99} | ${r.relayed ? `${r.relayed.p50}/${r.relayed.p99}` : '-'} | ${r.relayed ? (r.relayed.p99 - r.local.p99).toFixed(1) : '-'}`,
  );
