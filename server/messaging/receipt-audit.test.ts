import { randomUUID } from 'node:crypto';
import { and, eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../db/client.ts';
import { auditLog, conversationMembers } from '../../db/schema/index.ts';
import { ENGINES, openTestEngine } from '../../test/helpers/engines.ts';
import { ProblemError } from '../api/errors.ts';
import type { Messaging } from './messaging.ts';
import type { SendAck } from './types.ts';
import { chatNode, nodeKeys, seedClinic, userActor, type Seed } from './test-support/chat-fixture.ts';

const code = async (p: Promise<unknown>) => {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    return err instanceof ProblemError ? err.code : String(err);
  }
};

describe.each(ENGINES)('receipts are audited on %s', (engine) => {
  let close: () => Promise<void>;
  let db: Db;
  let a: Messaging;
  let b: Messaging;
  let s: Seed;
  const keys = nodeKeys();
  const doctor = () => userActor(s.doctorId, 'doctor', [s.clinicId], 'admitted');
  const patient = () => userActor(s.patientId, 'patient', [s.clinicId], 'admitted');

  beforeAll(async () => {
    const t = await openTestEngine(engine);
    close = t.close;
    db = t.handle.db;
    a = (await chatNode(db, keys)).messaging;
    b = (await chatNode(db, keys)).messaging;
    s = await seedClinic(db);
  });
  afterAll(() => close?.());

  const receiptsOf = (actorId: string) =>
    db
      .select()
      .from(auditLog)
      .where(
        and(eq(auditLog.actorId, actorId), inArray(auditLog.action, ['message.delivered', 'message.read'])),
      )
      .orderBy(auditLog.seq);

  it('one entry per watermark move, naming the message it moved to; a receipt that moves nothing writes nothing', async () => {
    const conv = (await a.forActor(doctor()).roomConversation(s.appointmentId)).id;
    const acks: SendAck[] = [];
    for (let i = 0; i < 5; i++)
      acks.push(await a.forActor(doctor()).send(conv, { id: randomUUID(), body: `m${i}` }));
    const p = b.forActor(patient());
    expect(await p.markDelivered(conv, acks[2]!.seq)).toEqual({ seq: acks[2]!.seq });
    // Reading implies delivery: both watermarks move, each audited.
    expect(await p.markRead(conv, acks[3]!.seq)).toEqual({ seq: acks[3]!.seq });
    // Backwards, again, or past the end (clamped to the last message): only the clamp moves anything.
    expect(await p.markRead(conv, acks[1]!.seq)).toEqual({ seq: acks[3]!.seq });
    expect(await p.markDelivered(conv, acks[3]!.seq)).toEqual({ seq: acks[3]!.seq });
    expect(await p.markRead(conv, acks[4]!.seq + 50)).toEqual({ seq: acks[4]!.seq });

    const entries = await receiptsOf(s.patientId);
    expect(entries.map((e) => [e.action, e.resourceType, e.resourceId, e.outcome])).toEqual([
      ['message.delivered', 'message', acks[2]!.id, 'allowed'],
      ['message.delivered', 'message', acks[3]!.id, 'allowed'],
      ['message.read', 'message', acks[3]!.id, 'allowed'],
      ['message.delivered', 'message', acks[4]!.id, 'allowed'],
      ['message.read', 'message', acks[4]!.id, 'allowed'],
    ]);
    expect(entries.every((e) => e.patientId === s.patientId && e.clinicId === s.clinicId)).toBe(true);
    const [member] = await db
      .select()
      .from(conversationMembers)
      .where(
        and(eq(conversationMembers.conversationId, conv), eq(conversationMembers.memberId, s.patientId)),
      );
    expect(member).toMatchObject({ deliveredSeq: acks[4]!.seq, readSeq: acks[4]!.seq });
  });

  it('a burst of receipts from two nodes is group-committed: watermarks end at the highest, never more entries than moves', async () => {
    const conv = (await a.forActor(doctor()).roomConversation(s.dependentAppointmentId)).id;
    const d = a.forActor(doctor());
    const acks: SendAck[] = [];
    for (let i = 0; i < 40; i++) acks.push(await d.send(conv, { id: randomUUID(), body: `n${i}` }));
    const before = (await receiptsOf(s.doctorId)).length;
    // The doctor acknowledges each message as it "arrives", from two nodes at once.
    const results = await Promise.all(
      acks.map((x, i) => (i % 2 ? a : b).forActor(doctor()).markDelivered(conv, x.seq)),
    );
    const last = acks.at(-1)!.seq;
    expect(results.every((r) => r.seq <= last && r.seq >= acks[0]!.seq)).toBe(true);
    const entries = (await receiptsOf(s.doctorId)).slice(before);
    expect(entries.length).toBeGreaterThan(0);
    expect(entries.length).toBeLessThanOrEqual(acks.length);
    // Each entry names a message that moved the watermark forward: strictly increasing seqs.
    const seqOf = new Map(acks.map((x) => [x.id, x.seq]));
    const moved = entries.map((e) => seqOf.get(e.resourceId!)!);
    expect(moved.every((seq, i) => i === 0 || seq > moved[i - 1]!)).toBe(true);
    expect(moved.at(-1)).toBe(last);
    expect(await a.forActor(doctor()).markDelivered(conv, 0)).toEqual({ seq: last });
  });

  it('refused and bad receipts store and audit nothing as a move', async () => {
    const conv = (await a.forActor(doctor()).roomConversation(s.appointmentId)).id;
    const outsider = userActor(s.otherDoctorId, 'doctor', [s.clinicId], 'absent');
    expect(await code(a.forActor(outsider).markRead(conv, 1))).toBe('not_found');
    expect(await code(a.forActor(patient()).markRead(conv, -1))).toBe('invalid_request');
    expect(await code(a.forActor(patient()).markDelivered(conv, 0.5))).toBe('invalid_request');
    expect(await receiptsOf(s.otherDoctorId)).toEqual([]);
    const rows = await db
      .select()
      .from(conversationMembers)
      .where(
        and(eq(conversationMembers.conversationId, conv), eq(conversationMembers.memberId, s.otherDoctorId)),
      );
    expect(rows).toEqual([]);
  });
});
