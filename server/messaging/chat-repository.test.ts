import { randomUUID } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../db/client.ts';
import { rowsOf } from '../../db/rows.ts';
import { auditLog, messageRevisions, messages } from '../../db/schema/index.ts';
import { ENGINES, openTestEngine } from '../../test/helpers/engines.ts';
import { ProblemError } from '../api/errors.ts';
import type { Messaging } from './messaging.ts';
import {
  chatNode,
  guestActor,
  nodeKeys,
  seedClinic,
  userActor,
  type Seed,
} from './test-support/chat-fixture.ts';

const code = async (p: Promise<unknown>) => {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    return err instanceof ProblemError ? err.code : String(err);
  }
};

describe.each(ENGINES)('chat repository on %s', (engine) => {
  let close: () => Promise<void>;
  let db: Db;
  let a: Messaging;
  let b: Messaging;
  let s: Seed;
  let room: string;
  const keys = nodeKeys();

  const doctor = (presence: 'admitted' | 'absent' = 'admitted') =>
    userActor(s.doctorId, 'doctor', [s.clinicId], presence);
  const patient = (presence: 'admitted' | 'waiting' | 'absent' = 'admitted') =>
    userActor(s.patientId, 'patient', [s.clinicId], presence);

  beforeAll(async () => {
    const t = await openTestEngine(engine);
    close = t.close;
    db = t.handle.db;
    // Two nodes on one database: two writers, two key caches, one audit chain.
    a = (await chatNode(db, keys)).messaging;
    b = (await chatNode(db, keys)).messaging;
    s = await seedClinic(db);
    room = (await a.forActor(doctor()).roomConversation(s.appointmentId)).id;
  });
  afterAll(() => close?.());

  it('acks with gap-free seqs in order and catches up with everything after a seq', async () => {
    const conv = (await a.forActor(doctor()).roomConversation(s.dependentAppointmentId)).id;
    const me = a.forActor(doctor());
    const acks = [];
    for (const text of ['one', 'two', 'three'])
      acks.push(await me.send(conv, { id: randomUUID(), body: text }));
    expect(acks.map((x) => x.seq)).toEqual([1, 2, 3]);
    const after1 = await me.after(conv, 1);
    expect(after1.map((m) => [m.seq, m.body])).toEqual([
      [2, 'two'],
      [3, 'three'],
    ]);
  });

  it('a retried send (also concurrent, on two nodes) returns the same ack and stores one message', async () => {
    const id = randomUUID();
    const sends = Array.from({ length: 12 }, (_, i) =>
      (i % 2 ? a : b).forActor(patient()).send(room, { id, body: 'I am here' }),
    );
    const acks = await Promise.all(sends);
    expect(new Set(acks.map((x) => x.seq)).size).toBe(1);
    expect(acks.filter((x) => !x.duplicate)).toHaveLength(1);
    const again = await a.forActor(patient()).send(room, { id, body: 'I am here' });
    expect(again).toMatchObject({ seq: acks[0]!.seq, duplicate: true });
    const rows = await db
      .select()
      .from(messages)
      .where(and(eq(messages.conversationId, room), eq(messages.id, id)));
    expect(rows).toHaveLength(1);
    const audited = await db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.action, 'message.sent'), eq(auditLog.resourceId, id)));
    expect(audited).toHaveLength(1);
    // Someone else presenting that id gets a conflict, never the other sender's ack.
    expect(await code(a.forActor(doctor()).send(room, { id, body: 'x' }))).toBe('message_id_conflict');
  });

  it('concurrent sends on two nodes get distinct gap-free seqs, and catch-up returns them in seq order', async () => {
    const conv = (await a.forActor(doctor()).roomConversation(s.appointmentId)).id;
    const before = (await a.forActor(doctor()).history(conv, { limit: 1 })).messages[0]?.seq ?? 0;
    const acks = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        (i % 2 ? a : b)
          .forActor(i % 3 ? doctor() : patient())
          .send(conv, { id: randomUUID(), body: `m${i}` }),
      ),
    );
    const seqs = acks.map((x) => x.seq).sort((x, y) => x - y);
    expect(seqs).toEqual(Array.from({ length: 60 }, (_, i) => before + 1 + i));
    const caught = await b.forActor(patient()).after(conv, before);
    expect(caught.map((m) => m.seq)).toEqual(seqs);
    const bodyBySeq = new Map(acks.map((x, i) => [x.seq, `m${i}`]));
    expect(caught.every((m) => m.body === bodyBySeq.get(m.seq))).toBe(true);
  });

  it('history pages newest first by cursor, to any depth', async () => {
    const me = a.forActor(doctor());
    const seen: number[] = [];
    let before: number | undefined;
    for (;;) {
      const page = await me.history(room, { ...(before ? { before } : {}), limit: 7 });
      seen.push(...page.messages.map((m) => m.seq));
      if (page.nextBefore === null) break;
      before = page.nextBefore;
    }
    const last = (await me.history(room, { limit: 1 })).messages[0]!.seq;
    expect(seen).toEqual(Array.from({ length: last }, (_, i) => last - i));
  });

  it('edits and deletes keep the original (revisions, audit) and show as edited / deleted', async () => {
    const me = a.forActor(patient());
    const ack = await me.send(room, { id: randomUUID(), body: 'my camera is brokn' });
    const edited = await me.edit(room, ack.id, 'my camera is broken');
    expect(edited).toMatchObject({ seq: ack.seq, body: 'my camera is broken', edited: true });
    expect(await code(a.forActor(doctor()).edit(room, ack.id, 'not mine'))).toBe('message_not_editable');
    await me.delete(room, ack.id);
    const [shown] = (await a.forActor(doctor()).after(room, ack.seq - 1)).filter((m) => m.id === ack.id);
    expect(shown).toMatchObject({ deleted: true, edited: true, body: null });
    const revisions = await db.select().from(messageRevisions).where(eq(messageRevisions.messageId, ack.id));
    expect(revisions).toHaveLength(1);
    const actions = (await db.select().from(auditLog).where(eq(auditLog.resourceId, ack.id))).map(
      (r) => r.action,
    );
    expect(actions.sort()).toEqual(['message.deleted', 'message.edited', 'message.sent']);
    expect(await code(me.edit(room, ack.id, 'again'))).toBe('message_not_editable');
  });

  it('receipts are per member watermarks, and unread counts follow them', async () => {
    const care = await a.forActor(doctor('absent')).openCareThread({
      clinicId: s.clinicId,
      doctorId: s.doctorId,
      patientId: s.patientId,
    });
    const d = a.forActor(doctor('absent'));
    for (let i = 0; i < 3; i++) await d.send(care.id, { id: randomUUID(), body: `note ${i}` });
    const p = b.forActor(patient('absent'));
    const unread = async () => (await p.list()).find((c) => c.id === care.id)?.unread;
    expect(await unread()).toBe(3);
    expect(await p.markDelivered(care.id, 3)).toEqual({ seq: 3 });
    expect(await unread()).toBe(3);
    expect(await p.markRead(care.id, 2)).toEqual({ seq: 2 });
    expect(await unread()).toBe(1);
    // Watermarks never move back, nor past the last message.
    expect(await p.markRead(care.id, 1)).toEqual({ seq: 2 });
    expect(await p.markRead(care.id, 99)).toEqual({ seq: 3 });
    expect(await unread()).toBe(0);
    expect(await code(p.markRead(care.id, -1))).toBe('invalid_request');
  });

  it('a waiting participant posts to the hosts only and reads nothing; guests only while admitted and valid', async () => {
    const waiting = a.forActor(patient('waiting'));
    const ack = await waiting.send(room, { id: randomUUID(), body: 'my camera does not work' });
    expect(await code(waiting.after(room, 0))).toBe('forbidden');
    expect(await code(waiting.history(room))).toBe('forbidden');
    const guest = a.forActor(guestActor(s.guestId, s.appointmentId));
    const guestSees = await guest.after(room, ack.seq - 1);
    expect(guestSees.find((m) => m.id === ack.id)).toBeUndefined();
    const hostSees = await a.forActor(doctor()).after(room, ack.seq - 1);
    expect(hostSees.find((m) => m.id === ack.id)).toMatchObject({ audience: 'hosts' });
    // Its sender sees it once admitted.
    expect((await a.forActor(patient()).after(room, ack.seq - 1)).find((m) => m.id === ack.id)).toBeDefined();
    const expired = a.forActor(guestActor(s.expiredGuestId, s.appointmentId));
    expect(await code(expired.after(room, 0))).toBe('forbidden');
    expect(await code(expired.send(room, { id: randomUUID(), body: 'hi' }))).toBe('forbidden');
    expect(await code(a.forActor(guestActor(s.guestId, s.appointmentId, 'absent')).after(room, 0))).toBe(
      'forbidden',
    );
  });

  it('outsiders cannot read, post or list: another doctor, an operator, another clinic, a foreign guest', async () => {
    const other = await seedClinic(db);
    const outsiders = [
      userActor(s.otherDoctorId, 'doctor', [s.clinicId], 'admitted'),
      userActor(s.operatorId, 'operator', [s.clinicId], 'admitted'),
      userActor(other.doctorId, 'doctor', [other.clinicId], 'admitted'),
      userActor(other.patientId, 'patient', [other.clinicId], 'admitted'),
      // The right doctor, no longer a member of the clinic.
      userActor(s.doctorId, 'doctor', [other.clinicId], 'admitted'),
      guestActor(other.guestId, other.appointmentId),
    ];
    for (const who of outsiders) {
      const r = a.forActor(who);
      expect(await code(r.after(room, 0))).toBe('not_found');
      expect(await code(r.history(room))).toBe('not_found');
      expect(await code(r.send(room, { id: randomUUID(), body: 'hi' }))).toBe('not_found');
      expect(await code(r.markRead(room, 1))).toBe('not_found');
      expect((await r.list()).map((c) => c.id)).not.toContain(room);
    }
    const denied = await db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.outcome, 'denied'), eq(auditLog.resourceId, room)));
    expect(denied.length).toBeGreaterThanOrEqual(outsiders.length * 3);
    expect(await code(a.forActor(doctor()).after(randomUUID(), 0))).toBe('not_found');
    expect(await code(a.forActor(doctor()).after('not-an-id', 0))).toBe('not_found');
  });

  it('bad input is refused with a typed error and stores nothing', async () => {
    const me = a.forActor(doctor());
    const count = async () =>
      Number(
        rowsOf<{ n: string }>(
          await db.execute(sql`select count(*) as n from messages where conversation_id = ${room}`),
        )[0]!.n,
      );
    const before = await count();
    expect(await code(me.send(room, { id: randomUUID(), body: '' }))).toBe('message_invalid');
    expect(await code(me.send(room, { id: randomUUID(), body: '   \n' }))).toBe('message_invalid');
    expect(await code(me.send(room, { id: randomUUID(), body: 'a\u0000b' }))).toBe('message_invalid');
    expect(await code(me.send(room, { id: randomUUID(), body: '\ud800' }))).toBe('message_invalid');
    expect(await code(me.send(room, { id: randomUUID(), body: 42 }))).toBe('message_invalid');
    expect(await code(me.send(room, { id: randomUUID(), body: 'é'.repeat(501) }))).toBe('message_too_large');
    expect(await code(me.send(room, { id: 'not-a-uuid', body: 'hi' }))).toBe('invalid_request');
    expect(await count()).toBe(before);
  });

  it('a member over the rate is refused (429) until the bucket refills', async () => {
    const slow = (await chatNode(db, keys, { config: { ratePerSecond: 1, rateBurst: 3 } })).messaging;
    const me = slow.forActor(doctor());
    for (let i = 0; i < 3; i++) await me.send(room, { id: randomUUID(), body: 'ok' });
    expect(await code(me.send(room, { id: randomUUID(), body: 'too many' }))).toBe('rate_limited');
    // Another member is not affected.
    await slow.forActor(patient()).send(room, { id: randomUUID(), body: 'fine' });
  });

  it('tampered ciphertext is a typed error, never garbage', async () => {
    const ack = await a.forActor(doctor()).send(room, { id: randomUUID(), body: 'to be tampered' });
    await db.execute(
      sql`update messages set sealed_body = overlay(sealed_body placing '\\xff'::bytea from length(sealed_body) - 3 for 1) where conversation_id = ${room} and id = ${ack.id}`,
    );
    expect(await code(a.forActor(doctor()).after(room, ack.seq - 1))).toBe('message_unreadable');
    await db.execute(
      sql`update messages set deleted_at = now() where conversation_id = ${room} and id = ${ack.id}`,
    );
  });
});
