// Chat across real nodes: node processes (server/main.ts) sharing PostgreSQL and Redis, two members
// per consultation room, each sending over its own room socket. With 1 node both members are on it;
// with 2 the doctor is on one node and the patient on the other (relayed to the room's owner), so
// every message crosses nodes. Per configuration: durable msg/s (acked = committed) with WINDOW
// unacknowledged sends per member, then send -> ack and send -> deliver (the other member's
// chat.message) p50/p99 at fixed arrival rates, and the CPU the node processes and PostgreSQL spend
// per 1,000 msg/s (from /proc; this generator's own CPU shown apart).
// Usage: npm run loadtest:chat:nodes. Env: NODES (1,2), ROOMS (150), DURABLE (20000), WINDOW (16),
// RATES (1000,3000), SECONDS (4), TEST_REDIS_URL.
import { randomBytes, randomUUID } from 'node:crypto';
import { openDb } from '../../db/client.ts';
import { consultationRooms } from '../../db/schema/index.ts';
import { JoinTokenIssuer, loadJoinTokenKeys } from '../../server/media/join-tokens.ts';
import { seedClinic } from '../../server/messaging/test-support/chat-fixture.ts';
import type { JoinClaims } from '../../signaling/protocol/index.ts';
import { TEST_REDIS_URL } from '../../test/helpers/env.ts';
import { ed25519Pem, startNodeProcess, type NodeProcess } from '../../test/helpers/node-process.ts';
import { createTestDatabase } from '../../test/helpers/pg.ts';
import { newRoomId } from '../../test/helpers/tokens.ts';
import { connectClient, type TestClient } from '../../test/helpers/ws-client.ts';
import { latencySummary } from '../stats.ts';
import { cpuOf, postgresPids, processCpuSeconds } from './cpu.ts';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const list = (name: string, fallback: string) => (process.env[name] ?? fallback).split(',').map(Number);
const NODES = list('NODES', '1,2');
const ROOMS = env('ROOMS', 150);
const DURABLE = env('DURABLE', 20_000);
const WINDOW = env('WINDOW', 16);
const RATES = list('RATES', '1000,3000');
const SECONDS = env('SECONDS', 4);
const log = (line: string) => process.stderr.write(`[chat-nodes] ${line}\n`);

type Member = { client: TestClient; other?: Member };
type Sent = { at: number; to: TestClient; ackedAt?: number; deliveredAt?: number };

/** Sends to measure, by client id, each delivered when the other member (not the sender's echo) gets it. */
class Ledger {
  readonly sent = new Map<string, Sent>();
  watch(member: Member) {
    member.client.on('notification', (method, data) => {
      if (method !== 'chat.message') return;
      const s = this.sent.get((data as { id: string }).id);
      if (s && s.to === member.client) s.deliveredAt ??= performance.now();
    });
  }
  async send(member: Member) {
    const clientId = randomUUID();
    const s: Sent = { at: performance.now(), to: member.other!.client };
    this.sent.set(clientId, s);
    await member.client.request('chat.send', { clientId, body: `m ${clientId.slice(0, 8)}` });
    s.ackedAt = performance.now();
  }
}

async function enterRoom(issuer: JoinTokenIssuer, url: string, claims: JoinClaims) {
  const client = await connectClient(url, await issuer.mint(claims));
  const { rtpCapabilities } = await client.request('getRouterRtpCapabilities', {});
  const joined = await client.request('join', { rtpCapabilities: rtpCapabilities as never });
  return { client, joined };
}

async function until(what: string, cond: () => boolean, ms = 60_000) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function runConfiguration(nodeCount: number) {
  const pg = await createTestDatabase();
  const pem = ed25519Pem();
  const issuer = new JoinTokenIssuer(loadJoinTokenKeys(pem), 600);
  const shared = {
    JOIN_TOKEN_PRIVATE_KEY: pem,
    DATA_KEK: randomBytes(32).toString('base64'),
    AUDIT_CHAIN_KEY: randomBytes(32).toString('base64'),
    MESSAGE_RATE_PER_SECOND: '100000',
    MESSAGE_RATE_BURST: '100000',
    LOG_LEVEL: 'warn',
    DATABASE_URL: pg.url,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_PREFIX: `bench:${randomBytes(4).toString('hex')}:`,
  };
  const nodes: NodeProcess[] = [];
  const db = await openDb({ databaseUrl: pg.url, maxConnections: 2 });
  const members: Member[] = [];
  try {
    // One after the other: the first one runs the migrations.
    for (let i = 0; i < nodeCount; i++) nodes.push(await startNodeProcess(shared));
    const wsUrl = (n: NodeProcess) => `ws://127.0.0.1:${n.port}/ws`;
    for (let r = 0; r < ROOMS; r++) {
      const s = await seedClinic(db.db, { appointmentStartsInHours: 0 });
      const room = newRoomId();
      await db.db.insert(consultationRooms).values({ appointmentId: s.appointmentId, roomId: room });
      const base: Pick<JoinClaims, 'room' | 'perms'> = { room, perms: ['publish', 'subscribe'] };
      const doctor = await enterRoom(issuer, wsUrl(nodes[0]!), {
        ...base,
        sub: s.doctorId,
        role: 'doctor',
        perms: ['publish', 'subscribe', 'admit', 'moderate'],
      });
      const patient = await enterRoom(issuer, wsUrl(nodes.at(-1)!), {
        ...base,
        sub: s.patientId,
        role: 'patient',
      });
      await until('the patient knocks', () =>
        doctor.client.notifications.some(
          (n) =>
            n.method === 'waitingRoom' &&
            (n.data as { waiting: { peerId: string }[] }).waiting.some((w) => w.peerId === s.patientId),
        ),
      );
      await doctor.client.request('admit', { peerId: s.patientId });
      await until('admitted', () => patient.client.notifications.some((n) => n.method === 'admitted'));
      const d: Member = { client: doctor.client };
      const p: Member = { client: patient.client, other: d };
      d.other = p;
      for (const m of [d, p]) {
        // Live delivery starts with the first catch-up.
        await m.client.request('chat.after', { seq: 0 });
        members.push(m);
      }
    }
    log(`${nodeCount} node(s): ${ROOMS} rooms, ${members.length} members joined`);
    const pgPids = await postgresPids(db.db);
    const serverCpu = () => nodes.reduce((s, n) => s + processCpuSeconds(n.child.pid!), 0) + cpuOf(pgPids);

    // Durable throughput: every member keeps WINDOW sends in flight until DURABLE are acked.
    const durable = new Ledger();
    members.forEach((m) => durable.watch(m));
    let started = 0;
    const cpu0 = [serverCpu(), processCpuSeconds('self')];
    const t0 = performance.now();
    await Promise.all(
      members.map(async (m) => {
        const lanes = Array.from({ length: WINDOW }, async () => {
          while (started < DURABLE) {
            started++;
            await durable.send(m);
          }
        });
        await Promise.all(lanes);
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const cpu1 = [serverCpu(), processCpuSeconds('self')];
    const durablePerSecond = Math.round(DURABLE / seconds);
    const coresServer = (cpu1[0]! - cpu0[0]!) / seconds;
    const durableRow = {
      messagesPerSecond: durablePerSecond,
      serverAndPostgresCores: Math.round(coresServer * 100) / 100,
      coresPer1000: Math.round((coresServer / (durablePerSecond / 1000)) * 1000) / 1000,
      generatorCores: Math.round(((cpu1[1]! - cpu0[1]!) / seconds) * 100) / 100,
    };
    log(`${nodeCount} node(s) durable: ${JSON.stringify(durableRow)}`);

    // Fixed arrival rates: sends spread over the members, each answered (acked) and delivered.
    const rates = [];
    for (const rate of RATES) {
      const ledger = new Ledger();
      members.forEach((m) => ledger.watch(m));
      const total = rate * SECONDS;
      const c0 = serverCpu();
      const start = performance.now();
      const sends: Promise<void>[] = [];
      for (let i = 0; i < total; i++) {
        const due = start + (i * 1000) / rate;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        sends.push(ledger.send(members[i % members.length]!).catch(() => undefined));
      }
      await Promise.all(sends);
      await until('deliveries', () => [...ledger.sent.values()].every((s) => s.deliveredAt), 30_000).catch(
        () => undefined,
      );
      const elapsed = (performance.now() - start) / 1000;
      const all = [...ledger.sent.values()];
      const acks = all.filter((s) => s.ackedAt).map((s) => s.ackedAt! - s.at);
      const deliveries = all.filter((s) => s.deliveredAt).map((s) => s.deliveredAt! - s.at);
      const row = {
        rate,
        acked: acks.length,
        delivered: deliveries.length,
        ackMs: latencySummary(acks),
        deliverMs: latencySummary(deliveries),
        coresPer1000: Math.round(((serverCpu() - c0) / elapsed / (rate / 1000)) * 1000) / 1000,
      };
      log(`${nodeCount} node(s) at ${rate}/s: ${JSON.stringify(row)}`);
      rates.push(row);
    }
    return { nodes: nodeCount, rooms: ROOMS, members: members.length, durable: durableRow, rates };
  } finally {
    members.forEach((m) => m.client.close());
    await Promise.all(nodes.map((n) => n.stop()));
    await db.close();
    await pg.drop();
  }
}

async function main() {
  const results = [];
  for (const n of NODES) results.push(await runConfiguration(n));
  process.stdout.write(`${JSON.stringify({ benchmark: 'chat-nodes', window: WINDOW, results })}\n\n`);
  const lines = [
    '| nodes | durable msg/s | cores/1k (server + PG) | rate | ack p50/p99 ms | deliver p50/p99 ms | delivered |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of results)
    for (const x of r.rates)
      lines.push(
        `| ${r.nodes} | ${r.durable.messagesPerSecond} | ${r.durable.coresPer1000} | ${x.rate}/s | ${x.ackMs.p50}/${x.ackMs.p99} | ${x.deliverMs.p50}/${x.deliverMs.p99} | ${x.delivered}/${x.rate * SECONDS} |`,
      );
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
