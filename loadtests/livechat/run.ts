/**
 * Live chat load test: PATIENTS patients ask at once in one clinic, OPERATORS operators (capacity
 * CAPACITY) on one node answer, write and close until every chat is done. Reports the assignment
 * path's latency (a start that found a free operator; a close, which routes the next waiting chat),
 * messages per second, and checks that no message was lost or stored twice. Prints a table and
 * one JSON line. Real PostgreSQL (a fresh database, dropped after).
 *   npm run loadtest:livechat   (PATIENTS=2000 OPERATORS=50 CAPACITY=4)
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { openDb } from '../../db/client.ts';
import { rowsOf } from '../../db/rows.ts';
import { liveChatNode, seedLiveClinic } from '../../server/livechat/test-support/livechat-fixture.ts';
import type { Actor } from '../../server/policy/types.ts';
import { createTestDatabase } from '../../test/helpers/pg.ts';
import { latencySummary } from '../stats.ts';

const PATIENTS = Number(process.env.PATIENTS ?? 2000);
const OPERATORS = Number(process.env.OPERATORS ?? 50);
const CAPACITY = Number(process.env.CAPACITY ?? 4);

const database = await createTestDatabase();
const handle = await openDb({ databaseUrl: database.url, maxConnections: 10 });
const db = handle.db;
try {
  const { livechat } = await liveChatNode(db);
  const clinic = await seedLiveClinic(db);
  const operators = await clinic.members('operator', OPERATORS);
  const patients = await clinic.members('patient', PATIENTS);
  for (const op of operators)
    await livechat
      .forActor(op)
      .setPresence({ clinicId: clinic.clinicId, status: 'available', capacity: CAPACITY });
  const patientOf = new Map<string, Actor>();
  const sent = new Set<string>();
  const startLatency: number[] = [];
  const closeLatency: number[] = [];
  const started = performance.now();

  const say = async (who: Actor, conversationId: string, body: string) => {
    const id = randomUUID();
    await livechat.forActor(who).chat().send(conversationId, { id, body });
    sent.add(id);
  };

  // Every patient asks at once.
  const starts = Promise.all(
    patients.map(async (p) => {
      const id = randomUUID();
      const t0 = performance.now();
      const state = await livechat
        .forActor(p)
        .start({ clinicId: clinic.clinicId, message: { id, body: 'Hello' } });
      if (state.status === 'assigned') startLatency.push(performance.now() - t0);
      sent.add(id);
      patientOf.set(state.conversationId, p);
    }),
  );

  // Each operator works their chats: a reply, the patient's answer, close (which routes the next chat).
  let closed = 0;
  const work = async (op: Actor) => {
    while (closed < PATIENTS) {
      const mine = rowsOf<{ conversation_id: string }>(
        await db.execute(
          sql`select conversation_id from live_chats where assignee_id = ${op.userId} and status = 'assigned'`,
        ),
      );
      const ready = mine.filter((m) => patientOf.has(m.conversation_id));
      if (!ready.length) {
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      await Promise.all(
        ready.map(async ({ conversation_id: chat }) => {
          await say(op, chat, 'How can I help?');
          await say(patientOf.get(chat)!, chat, 'Thanks');
          const t0 = performance.now();
          await livechat.forActor(op).close(chat, { resolution: 'resolved' });
          closeLatency.push(performance.now() - t0);
          closed += 1;
        }),
      );
    }
  };
  await Promise.all([starts, ...operators.map(work)]);
  const seconds = (performance.now() - started) / 1000;

  const [stored] = rowsOf<{ total: string; distinct_ids: string }>(
    await db.execute(
      sql`select count(*) as total, count(distinct (conversation_id, id)) as distinct_ids from messages`,
    ),
  );
  const storedIds = new Set(
    rowsOf<{ id: string }>(await db.execute(sql`select id from messages`)).map((r) => r.id),
  );
  const lost = [...sent].filter((id) => !storedIds.has(id)).length;
  const handled = rowsOf<{ n: string }>(
    await db.execute(
      sql`select count(*) as n from live_chats where assignee_id is not null group by assignee_id`,
    ),
  ).map((r) => Number(r.n));
  const result = {
    patients: PATIENTS,
    operators: OPERATORS,
    capacity: CAPACITY,
    seconds: Math.round(seconds * 10) / 10,
    assignedAtStart: startLatency.length,
    startMs: latencySummary(startLatency),
    closeAndRouteMs: latencySummary(closeLatency),
    messages: sent.size,
    messagesPerSecond: Math.round(sent.size / seconds),
    lost,
    doubled: Number(stored!.total) - Number(stored!.distinct_ids),
    handledPerOperator: { min: Math.min(...handled), max: Math.max(...handled) },
  };
  console.table({
    'start (assigned at once)': result.startMs,
    'close + route next': result.closeAndRouteMs,
  });
  console.log(
    `${result.messages} messages in ${result.seconds} s (${result.messagesPerSecond}/s), lost ${lost}, doubled ${result.doubled}; chats per operator ${result.handledPerOperator.min}-${result.handledPerOperator.max}`,
  );
  console.log(`livechat load ${JSON.stringify(result)}`);
  if (lost || result.doubled) process.exitCode = 1;
} finally {
  await handle.close();
  await database.drop();
}
