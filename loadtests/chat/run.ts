// Chat load test: durable messages/s on one node (acked = committed: group commit, sealing, audit
// entries in the same transaction) and send -> deliver latency at fixed arrival rates (persist,
// ack, publish on the bus, open and hand to a subscribed member), plus the CPU the node and
// PostgreSQL spend per 1,000 msg/s, read from /proc. The generator runs in the node's process, so
// its own CPU is measured apart (the same arrival loop around a no-op) and subtracted.
// Usage: npm run loadtest:chat. Env: RATES (1000,5000,10000), SECONDS (5), DURABLE (30000),
// IN_FLIGHT (2000), ROOMS (200), POOL (10), BUS (local | redis), TEST_REDIS_URL.
import { randomBytes, randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import { openDb } from '../../db/client.ts';
import { ClusterBus } from '../../server/cluster/cluster-bus.ts';
import { createBus } from '../../server/bus/create-bus.ts';
import type { LiveEvent } from '../../server/messaging/chat-repository.ts';
import type { ChatRepository } from '../../server/messaging/chat-repository.ts';
import {
  chatNode,
  nodeKeys,
  seedClinic,
  userActor,
} from '../../server/messaging/test-support/chat-fixture.ts';
import { TEST_REDIS_URL } from '../../test/helpers/env.ts';
import { createTestDatabase } from '../../test/helpers/pg.ts';
import { latencySummary } from '../stats.ts';
import { cpuOf, postgresPids, processCpuSeconds } from './cpu.ts';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const RATES = (process.env.RATES ?? '1000,5000,10000').split(',').map(Number);
const SECONDS = env('SECONDS', 5);
const DURABLE = env('DURABLE', 30_000);
const IN_FLIGHT = env('IN_FLIGHT', 2000);
const ROOMS = env('ROOMS', 200);
const POOL = env('POOL', 10);
const BUS = process.env.BUS ?? 'local';
const BODY = 'The pain is better since yesterday, but I still feel dizzy when I stand up quickly.';

const database = await createTestDatabase();
const handle = await openDb({ databaseUrl: database.url, maxConnections: POOL });
const bus = await createBus(
  BUS === 'redis' ? TEST_REDIS_URL : undefined,
  `loadtest:${randomBytes(4).toString('hex')}:`,
);
try {
  const { messaging } = await chatNode(handle.db, nodeKeys(), {
    bus: new ClusterBus(bus, (invalid) => {
      throw new Error(`invalid chat event on the bus: ${invalid.issues.join(', ')}`);
    }),
    config: { maxBytes: 8192, ratePerSecond: 1_000_000, rateBurst: 1_000_000 },
  });
  // Rooms with a doctor sending and the patient subscribed (as their socket would be).
  const rooms: { id: string; sender: ChatRepository }[] = [];
  const sentAt = new Map<string, number>();
  const delivered: number[] = [];
  const onEvent = (e: LiveEvent) => {
    if (e.type !== 'message') return;
    const t = sentAt.get(e.id);
    if (t === undefined) return;
    sentAt.delete(e.id);
    delivered.push(performance.now() - t);
  };
  for (let i = 0; rooms.length < ROOMS; i++) {
    const s = await seedClinic(handle.db);
    for (const appointmentId of [s.appointmentId]) {
      const sender = messaging.forActor(userActor(s.doctorId, 'doctor', [s.clinicId], 'admitted'));
      const { id } = await sender.roomConversation(appointmentId);
      const reader = messaging.forActor(userActor(s.patientId, 'patient', [s.clinicId], 'admitted'));
      await reader.subscribe(id, onEvent);
      rooms.push({ id, sender });
    }
  }
  const send = (i: number) => {
    const room = rooms[i % rooms.length]!;
    return room.sender.send(room.id, { id: randomUUID(), body: BODY });
  };
  const measure = async (work: () => Promise<void>) => {
    // Asked each time: the pool opens connections as load needs them.
    const pgPids = await postgresPids(handle.db);
    const node0 = processCpuSeconds('self');
    const pg0 = cpuOf(pgPids);
    const writes0 = { ...messaging.writer.stats };
    const t0 = performance.now();
    await work();
    const seconds = (performance.now() - t0) / 1000;
    const writes = messaging.writer.stats;
    const batches = writes.batches - writes0.batches;
    return {
      seconds,
      nodeCores: (processCpuSeconds('self') - node0) / seconds,
      pgCores: (cpuOf(pgPids) - pg0) / seconds,
      // How the writer grouped them, and how often it left the one-round-trip path.
      writes: {
        batches,
        perBatch: round((writes.messages - writes0.messages) / Math.max(1, batches)),
        headMissed: writes.headMissed - writes0.headMissed,
        lookedUpFirst: writes.lookedUpFirst - writes0.lookedUpFirst,
      },
    };
  };

  // Warm-up: JIT, key cache, prepared statements.
  await Promise.all(Array.from({ length: 2000 }, (_, i) => send(i)));

  // 1. Durable messages/s: a fixed number in flight, each resolved only when committed.
  let acked = 0;
  const durable = await measure(async () => {
    let next = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        for (let i = next++; i < DURABLE; i = next++) {
          await send(i);
          acked++;
        }
      }),
    );
  });

  // 2. Open loop at fixed rates: latency from the scheduled send to the member's listener.
  async function openLoop(rate: number, job: (i: number) => Promise<unknown>) {
    const total = Math.round(rate * SECONDS);
    const running: Promise<unknown>[] = [];
    let errors = 0;
    const started = performance.now();
    for (let launched = 0; launched < total;) {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate) + 1);
      for (; launched < due; launched++) running.push(job(launched).catch(() => void errors++));
      await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(running);
    return errors;
  }
  const rates = [];
  for (const rate of RATES) {
    delivered.length = 0;
    let errors = 0;
    const m = await measure(async () => {
      errors = await openLoop(rate, (i) => {
        const room = rooms[i % rooms.length]!;
        const id = randomUUID();
        sentAt.set(id, performance.now());
        return room.sender.send(room.id, { id, body: BODY });
      });
      // The last deliveries.
      for (let w = 0; w < 200 && sentAt.size; w++) await new Promise((r) => setTimeout(r, 10));
    });
    // The generator alone: the same loop around a no-op.
    const gen = await measure(async () => void (await openLoop(rate, async () => randomUUID())));
    const achieved = delivered.length / m.seconds;
    const serverCores = Math.max(0, m.nodeCores - gen.nodeCores) + m.pgCores;
    rates.push({
      rate,
      delivered: delivered.length,
      lost: sentAt.size,
      errors,
      ...latencySummary(delivered),
      nodeCores: round(m.nodeCores),
      generatorCores: round(gen.nodeCores),
      postgresCores: round(m.pgCores),
      coresPer1000: round((serverCores / Math.max(1, achieved)) * 1000),
      writes: m.writes,
    });
    sentAt.clear();
  }

  const result = {
    machine: { cores: cpus().length, node: process.version, bus: bus.kind, pool: POOL, rooms: ROOMS },
    durable: {
      messages: acked,
      seconds: round(durable.seconds),
      perSecond: Math.round(acked / durable.seconds),
      inFlight: IN_FLIGHT,
      nodeCores: round(durable.nodeCores),
      postgresCores: round(durable.pgCores),
      coresPer1000: round(((durable.nodeCores + durable.pgCores) / (acked / durable.seconds)) * 1000),
      writes: durable.writes,
    },
    rates,
  };
  console.log(JSON.stringify(result, null, 2));
  console.log(
    `\ndurable: ${result.durable.perSecond} msg/s (${IN_FLIGHT} in flight), node ${result.durable.nodeCores} + PostgreSQL ${result.durable.postgresCores} cores, ${result.durable.coresPer1000} cores per 1k msg/s, ${result.durable.writes.perBatch} messages per batch`,
  );
  console.log(
    'rate/s   delivered  p50 ms  p95 ms  p99 ms  node  generator  postgres  cores per 1k msg/s  per batch',
  );
  for (const r of rates)
    console.log(
      `${String(r.rate).padEnd(8)} ${String(r.delivered).padEnd(10)} ${String(r.p50).padEnd(7)} ${String(r.p95).padEnd(7)} ${String(r.p99).padEnd(7)} ${String(r.nodeCores).padEnd(5)} ${String(r.generatorCores).padEnd(10)} ${String(r.postgresCores).padEnd(9)} ${String(r.coresPer1000).padEnd(19)} ${r.writes.perBatch}`,
    );
} finally {
  await bus.close();
  await handle.close();
  await database.drop();
}

function round(x: number) {
  return Math.round(x * 1000) / 1000;
}
