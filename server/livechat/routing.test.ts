import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../db/client.ts';
import { rowsOf } from '../../db/rows.ts';
import { liveChats, operatorPresence } from '../../db/schema/index.ts';
import { ENGINES, openTestEngine } from '../../test/helpers/engines.ts';
import type { Actor } from '../policy/types.ts';
import type { LiveChat } from './live-chat.ts';
import { codeOf, liveChatNode, say, seedLiveClinic } from './test-support/livechat-fixture.ts';

/**
 * Every scenario on both engines (a node without DATABASE_URL runs on PGlite); the races and the
 * long fairness run only where connections are really concurrent (a PGlite has one).
 */
describe.each(ENGINES)('live chat routing on %s', (engine) => {
  const concurrent = engine === 'postgres';
  let close: () => Promise<void>;
  let db: Db;
  let lc: LiveChat;
  let other: LiveChat;

  beforeAll(async () => {
    const t = await openTestEngine(engine);
    close = t.close;
    db = t.handle.db;
    // Two nodes on one database: routing must be safe across them.
    lc = (await liveChatNode(db)).livechat;
    other = (await liveChatNode(db)).livechat;
  }, 60_000);
  afterAll(() => close?.());

  const holderOf = async (conversationId: string) =>
    (await db.select().from(liveChats).where(eq(liveChats.conversationId, conversationId)))[0]!;
  const available = (op: Actor, clinicId: string, capacity: number) =>
    lc.forActor(op).setPresence({ clinicId, status: 'available', capacity });

  if (concurrent)
    it('50 operators accepting the same waiting chat at once: exactly one wins, 49 get 409 livechat_taken', async () => {
      const c = await seedLiveClinic(db, { routingMode: 'manual' });
      const operators = await c.members('operator', 50);
      for (const op of operators) await available(op, c.clinicId, 3);
      const patient = await c.member('patient');
      const chat = await lc.forActor(patient).start({ clinicId: c.clinicId, message: say('hello') });
      expect(chat.status).toBe('queued');
      const outcomes = await Promise.all(
        operators.map((op, i) => codeOf((i % 2 ? other : lc).forActor(op).accept(chat.conversationId))),
      );
      expect(outcomes.filter((o) => o === 'resolved')).toHaveLength(1);
      expect(outcomes.filter((o) => o === 'livechat_taken')).toHaveLength(49);
      const winner = operators[outcomes.indexOf('resolved')]!;
      expect((await holderOf(chat.conversationId)).assigneeId).toBe(winner.userId);
    }, 60_000);

  it('never auto-assigns an operator at capacity, also when chats arrive at once on two nodes', async () => {
    const c = await seedLiveClinic(db);
    const [small, large] = await c.members('operator', 2);
    await available(small!, c.clinicId, 1);
    await available(large!, c.clinicId, 2);
    const patients = await c.members('patient', 6);
    await Promise.all(
      patients.map((p, i) =>
        (i % 2 ? other : lc).forActor(p).start({ clinicId: c.clinicId, message: say('hi') }),
      ),
    );
    const open = rowsOf<{ assignee_id: string | null; n: string }>(
      await db.execute(
        sql`select assignee_id, count(*) as n from live_chats where clinic_id = ${c.clinicId} group by assignee_id`,
      ),
    );
    const count = (id: string | null) => Number(open.find((r) => r.assignee_id === id)?.n ?? 0);
    expect(count(small!.userId)).toBe(1);
    expect(count(large!.userId)).toBe(2);
    expect(count(null)).toBe(3);
  }, 60_000);

  if (concurrent)
    it('40 chats starting at once on two nodes never push an operator past capacity nor assign a chat twice', async () => {
      const c = await seedLiveClinic(db);
      const [op1, op2] = await c.members('operator', 2);
      await available(op1!, c.clinicId, 4);
      await available(op2!, c.clinicId, 3);
      const patients = await c.members('patient', 40);
      await Promise.all(
        patients.map((p, i) =>
          (i % 2 ? other : lc).forActor(p).start({ clinicId: c.clinicId, message: say('now') }),
        ),
      );
      const rows = rowsOf<{ assignee_id: string | null; n: string }>(
        await db.execute(
          sql`select assignee_id, count(*) as n from live_chats where clinic_id = ${c.clinicId} group by assignee_id`,
        ),
      );
      const count = (id: string | null) => Number(rows.find((r) => r.assignee_id === id)?.n ?? 0);
      expect([count(op1!.userId), count(op2!.userId), count(null)]).toEqual([4, 3, 33]);
      // The conversation's holder agrees with the routing row for every chat.
      const mismatched = rowsOf<{ n: string }>(
        await db.execute(
          sql`select count(*) as n from live_chats l join conversations c on c.id = l.conversation_id
               where l.clinic_id = ${c.clinicId} and c.doctor_id is distinct from l.assignee_id`,
        ),
      );
      expect(Number(mismatched[0]!.n)).toBe(0);
    }, 60_000);

  it('with every operator full, chats A, B, C are assigned in their arrival order as capacity frees', async () => {
    const c = await seedLiveClinic(db);
    const [op1, op2] = await c.members('operator', 2);
    await available(op1!, c.clinicId, 1);
    await available(op2!, c.clinicId, 1);
    const patients = await c.members('patient', 5);
    const first = [];
    for (const p of patients.slice(0, 2))
      first.push(await lc.forActor(p).start({ clinicId: c.clinicId, message: say('first') }));
    const waiting = [];
    for (const p of patients.slice(2))
      waiting.push(await lc.forActor(p).start({ clinicId: c.clinicId, message: say('waiting') }));
    expect(waiting.map((w) => w.position)).toEqual([1, 2, 3]);
    // Capacity frees three times, on alternating nodes and operators: the oldest waiting chat goes each time.
    const held = new Map([
      [op1!.userId, first.find((f) => f.assigneeId === op1!.userId)!.conversationId],
      [op2!.userId, first.find((f) => f.assigneeId === op2!.userId)!.conversationId],
    ]);
    const order: string[] = [];
    for (let i = 0; i < 3; i++) {
      const holder = i % 2 ? op2! : op1!;
      await (i % 2 ? other : lc).forActor(holder).close(held.get(holder.userId)!, { resolution: 'resolved' });
      const [now] = rowsOf<{ conversation_id: string }>(
        await db.execute(
          sql`select conversation_id from live_chats where clinic_id = ${c.clinicId} and status = 'assigned' and assignee_id = ${holder.userId}`,
        ),
      );
      order.push(now!.conversation_id);
      held.set(holder.userId, now!.conversation_id);
    }
    expect(order).toEqual(waiting.map((w) => w.conversationId));
  }, 60_000);

  it('an operator coming online takes the oldest waiting chat, not a newer arrival', async () => {
    const c = await seedLiveClinic(db);
    const [busy, late] = await c.members('operator', 2);
    await available(busy!, c.clinicId, 1);
    const patients = await c.members('patient', 4);
    const chats = [];
    for (const p of patients)
      chats.push(await lc.forActor(p).start({ clinicId: c.clinicId, message: say('hi') }));
    await available(late!, c.clinicId, 1);
    expect((await holderOf(chats[1]!.conversationId)).assigneeId).toBe(late!.userId);
    expect((await holderOf(chats[2]!.conversationId)).status).toBe('queued');
    expect((await lc.forActor(patients[3]!).state(chats[3]!.conversationId)).position).toBe(2);
  }, 60_000);

  if (concurrent)
    it('1,000 chats over 10 equal operators: no operator handles more than 10 % above the mean', async () => {
      const c = await seedLiveClinic(db);
      const operators = await c.members('operator', 10);
      for (const op of operators) await available(op, c.clinicId, 3);
      const patients = await c.members('patient', 50);
      // A seeded generator: which open chat ends next is random but the same on every run.
      let seed = 17;
      const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
      const byId = new Map(operators.map((o) => [o.userId, o]));
      for (let i = 0; i < 1000; i++) {
        const node = i % 2 ? other : lc;
        await node.forActor(patients[i % 50]!).start({ clinicId: c.clinicId, message: say(`chat ${i}`) });
        const open = rowsOf<{ conversation_id: string; assignee_id: string }>(
          await db.execute(
            sql`select conversation_id, assignee_id from live_chats where clinic_id = ${c.clinicId} and status = 'assigned' order by assigned_at, conversation_id`,
          ),
        );
        // Equal operators work at the same pace: one of the five chats held longest ends (which one is
        // random), on most turns, so the team stays busy and the queue short.
        if (open.length >= 20 || random() < 0.9) {
          const ending = open[Math.floor(random() * Math.min(5, open.length))]!;
          await node
            .forActor(byId.get(ending.assignee_id)!)
            .close(ending.conversation_id, { resolution: 'resolved' });
        }
      }
      const handled = rowsOf<{ assignee_id: string; n: string }>(
        await db.execute(
          sql`select assignee_id, count(*) as n from live_chats where clinic_id = ${c.clinicId} and assignee_id is not null group by assignee_id`,
        ),
      ).map((r) => Number(r.n));
      const mean = handled.reduce((s, n) => s + n, 0) / operators.length;
      expect(handled).toHaveLength(10);
      expect(Math.max(...handled)).toBeLessThanOrEqual(mean * 1.1);
      console.log(
        `livechat fairness: handled per operator ${handled.sort((x, y) => x - y).join(', ')} (mean ${mean})`,
      );
    }, 300_000);

  it('an unanswered chat goes back to its original place when the no-answer time passes', async () => {
    const c = await seedLiveClinic(db, { noAnswerSeconds: 30 });
    const [silent, answering, late] = await c.members('operator', 3);
    await available(silent!, c.clinicId, 1);
    await available(answering!, c.clinicId, 1);
    const patients = await c.members('patient', 3);
    const x = await lc.forActor(patients[0]!).start({ clinicId: c.clinicId, message: say('x') });
    const y = await lc.forActor(patients[1]!).start({ clinicId: c.clinicId, message: say('y') });
    const z = await lc.forActor(patients[2]!).start({ clinicId: c.clinicId, message: say('z') });
    const xRow = await holderOf(x.conversationId);
    const silentHolds = xRow.assigneeId === silent!.userId ? x : y;
    const answered = silentHolds === x ? y : x;
    const holderOfAnswered = (await holderOf(answered.conversationId)).assigneeId!;
    await lc
      .forActor(holderOfAnswered === answering!.userId ? answering! : silent!)
      .chat()
      .send(answered.conversationId, say('Hello, how can we help?'));
    const before = await holderOf(silentHolds.conversationId);
    // Not yet: within the no-answer time nothing moves.
    expect((await lc.sweep(new Date(Date.now() + 10_000))).requeued).toBe(0);
    const swept = await other.sweep(new Date(Date.now() + 31_000));
    expect(swept.requeued).toBe(1);
    const after = await holderOf(silentHolds.conversationId);
    expect(after.status).toBe('queued');
    expect(after.queuedAt.getTime()).toBe(before.queuedAt.getTime());
    // Its old place: ahead of z, which arrived later.
    expect(
      (await lc.forActor(patients[silentHolds === x ? 0 : 1]!).state(silentHolds.conversationId)).position,
    ).toBe(1);
    expect((await holderOf(answered.conversationId)).status).toBe('assigned');
    // The silent operator is away now; the next operator online takes the requeued chat first.
    await available(late!, c.clinicId, 1);
    expect((await holderOf(silentHolds.conversationId)).assigneeId).toBe(late!.userId);
    expect((await holderOf(z.conversationId)).status).toBe('queued');
  }, 60_000);

  it('a reopened chat whose old operator went offline goes to an available operator', async () => {
    const c = await seedLiveClinic(db);
    const [first, second] = await c.members('operator', 2);
    await available(first!, c.clinicId, 2);
    const patient = await c.member('patient');
    const chat = await lc.forActor(patient).start({ clinicId: c.clinicId, message: say('hi') });
    expect(chat.assigneeId).toBe(first!.userId);
    await lc.forActor(first!).close(chat.conversationId, { resolution: 'resolved' });
    await lc.forActor(first!).setPresence({ clinicId: c.clinicId, status: 'offline' });
    await available(second!, c.clinicId, 2);
    const reopened = await other.forActor(patient).reopen(chat.conversationId);
    expect(reopened.status).toBe('assigned');
    expect(reopened.assigneeId).toBe(second!.userId);
  }, 60_000);

  it('a dead node’s operator goes offline when the lease runs out and gets no new chats', async () => {
    const c = await seedLiveClinic(db);
    const [gone] = await c.members('operator', 1);
    await available(gone!, c.clinicId, 3);
    expect((await lc.sweep(new Date(Date.now() + 61_000))).offline).toBeGreaterThanOrEqual(1);
    const [presence] = await db
      .select()
      .from(operatorPresence)
      .where(eq(operatorPresence.operatorId, gone!.userId));
    expect(presence!.status).toBe('offline');
    const patient = await c.member('patient');
    // Routing reads the lease, not only the written status: nobody is available, so it is an offline request.
    const chat = await lc.forActor(patient).start({ clinicId: c.clinicId, message: say('anyone?') });
    expect(chat.status).toBe('offline');
    expect(await codeOf(lc.forActor(gone!).heartbeat(c.clinicId))).toBe('livechat_state');
  }, 60_000);
});
