import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { eq } from 'drizzle-orm';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { openDb } from '../../db/client.ts';
import { auditLog, messages } from '../../db/schema/index.ts';
import { TEST_PG_BIN_DIR, TEST_REDIS_URL } from '../../test/helpers/env.ts';
import { createTestDatabase } from '../../test/helpers/pg.ts';
import { ENGINES, openTestEngine } from '../../test/helpers/engines.ts';
import { ProblemError } from '../api/errors.ts';
import { AuditLog } from '../audit/audit-log.ts';
import { createBus } from '../bus/create-bus.ts';
import { ClusterBus, type InvalidMessage } from '../cluster/cluster-bus.ts';
import { DataKeyStore, KekRing, MessageSealer } from '../crypto/index.ts';
import { OutboxNotificationProvider } from '../notifications/outbox-provider.ts';
import type { LiveEvent } from './chat-repository.ts';
import { Messaging } from './messaging.ts';
import { conversationScope } from './scope.ts';
import {
  chatNode,
  guestActor,
  nodeKeys,
  seedClinic,
  TEST_MESSAGING,
  userActor,
} from './test-support/chat-fixture.ts';

const run = promisify(execFile);
const until = async (cond: () => boolean) => {
  for (let i = 0; i < 300 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
};
const code = (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (e: unknown) => (e instanceof ProblemError ? e.code : String(e)),
  );

it('PostgreSQL: pg_dump finds no message text (bodies, edits) in any table', async () => {
  const database = await createTestDatabase();
  const handle = await openDb({ databaseUrl: database.url, maxConnections: 2 });
  try {
    const { messaging } = await chatNode(handle.db, nodeKeys());
    const s = await seedClinic(handle.db);
    const doctor = messaging.forActor(userActor(s.doctorId, 'doctor', [s.clinicId], 'admitted'));
    const room = (await doctor.roomConversation(s.appointmentId)).id;
    const secrets = [`Suspected pericarditis ${randomUUID()}`, `Amoxicillin 500 mg ${randomUUID()}`];
    const ack = await doctor.send(room, { id: randomUUID(), body: secrets[0] });
    await doctor.edit(room, ack.id, secrets[1]!);
    const { stdout } = await run(join(TEST_PG_BIN_DIR, 'pg_dump'), ['--data-only', database.url], {
      maxBuffer: 256 * 1024 * 1024,
      encoding: 'buffer',
    });
    expect(stdout.includes(Buffer.from('COPY public.messages'))).toBe(true);
    for (const text of secrets)
      for (const form of [text, Buffer.from(text).toString('hex'), Buffer.from(text).toString('base64')])
        expect(stdout.includes(Buffer.from(form)), form).toBe(false);
  } finally {
    await handle.close();
    await database.drop();
  }
});

describe.each(ENGINES)('chat storage on %s', (engine) => {
  let t: Awaited<ReturnType<typeof openTestEngine>>;
  beforeAll(async () => {
    t = await openTestEngine(engine);
  });
  afterAll(() => t?.close());

  it('messages written before a KEK rotation still read after the re-wrap, with only the new KEK', async () => {
    const db = t.handle.db;
    const v1 = { version: 1, key: randomBytes(32) };
    const v2 = { version: 2, key: randomBytes(32) };
    const chainKey = randomBytes(32);
    const node = (ring: KekRing) =>
      new Messaging({
        db,
        audit: new AuditLog(db, chainKey),
        sealer: new MessageSealer(new DataKeyStore(db, ring)),
        bus: undefined,
        logger: pino({ level: 'silent' }),
        config: TEST_MESSAGING,
        notifier: new OutboxNotificationProvider(db),
        publicUrl: () => '',
      });
    const s = await seedClinic(db);
    const doctor = userActor(s.doctorId, 'doctor', [s.clinicId], 'admitted');
    const before = node(new KekRing(v1, []));
    const room = (await before.forActor(doctor).roomConversation(s.appointmentId)).id;
    await before.forActor(doctor).send(room, { id: randomUUID(), body: 'written under v1' });
    const keys = new DataKeyStore(db, new KekRing(v2, [v1]));
    const rotated = await keys.rewrapAll();
    expect(rotated.remaining).toBe(0);
    const after = node(new KekRing(v2, []));
    await after.forActor(doctor).send(room, { id: randomUUID(), body: 'written under v2' });
    expect((await after.forActor(doctor).after(room, 0)).map((m) => m.body)).toEqual([
      'written under v1',
      'written under v2',
    ]);
  });

  it('a message the database refuses does not fail the others of its batch', async () => {
    const db = t.handle.db;
    const { messaging, encryption, audit } = await chatNode(db, nodeKeys());
    const s = await seedClinic(db);
    const doctor = userActor(s.doctorId, 'doctor', [s.clinicId], 'admitted');
    const room = (await messaging.forActor(doctor).roomConversation(s.appointmentId)).id;
    const write = async (senderId: string) => {
      const id = randomUUID();
      return messaging.writer.write({
        conversationId: room,
        id,
        senderId,
        senderKind: 'user',
        audience: 'all',
        sealedBody: await encryption.messages.seal(conversationScope(room), id, 'x'),
        createdAt: new Date(),
        audit: audit.entry({
          action: 'message.sent',
          outcome: 'allowed',
          resourceType: 'message',
          resourceId: id,
        }),
      });
    };
    // Submitted together, so they share a batch: NUL in a text column is refused by PostgreSQL.
    const outcomes = await Promise.all([
      write(s.doctorId),
      write(s.doctorId),
      write('poisoned\u0000sender'),
      write(s.doctorId),
      write(s.doctorId),
    ]);
    expect(outcomes.map((o) => o.ok)).toEqual([true, true, false, true, true]);
    const seqs = outcomes.flatMap((o) => (o.ok ? [o.seq] : [])).sort((a, b) => a - b);
    expect(seqs).toEqual([1, 2, 3, 4]);
    expect(await db.select().from(messages).where(eq(messages.conversationId, room))).toHaveLength(4);
  });

  it('a batch with a retried id and an unknown conversation: the retry gets its first ack, the stranger 404, the rest the next seqs', async () => {
    const db = t.handle.db;
    const { messaging, encryption, audit } = await chatNode(db, nodeKeys());
    const s = await seedClinic(db);
    const doctor = userActor(s.doctorId, 'doctor', [s.clinicId], 'admitted');
    const room = (await messaging.forActor(doctor).roomConversation(s.appointmentId)).id;
    const message = async (conversationId: string, id: string = randomUUID()) => ({
      conversationId,
      id,
      senderId: s.doctorId,
      senderKind: 'user' as const,
      audience: 'all' as const,
      sealedBody: await encryption.messages.seal(conversationScope(conversationId), id, 'x'),
      createdAt: new Date(),
      audit: audit.entry({
        action: 'message.sent',
        outcome: 'allowed',
        resourceType: 'message',
        resourceId: id,
      }),
    });
    const first = await messaging.writer.write(await message(room));
    expect(first).toMatchObject({ ok: true, seq: 1, duplicate: false });
    const stored = await db.select().from(messages).where(eq(messages.conversationId, room));
    const batch = [
      await message(room),
      await message(room, stored[0]!.id),
      await message(randomUUID()),
      await message(room),
    ];
    const before = { ...messaging.writer.stats };
    // The first goes alone (an idle writer starts at once); the other three share the next batch.
    const outcomes = await Promise.all(batch.map((m) => messaging.writer.write(m)));
    expect(outcomes[0]).toMatchObject({ ok: true, seq: 2, duplicate: false });
    expect(outcomes[1]).toMatchObject({ ok: true, seq: 1, duplicate: true });
    expect(outcomes[2]).toMatchObject({ ok: false, error: { status: 404 } });
    expect(outcomes[3]).toMatchObject({ ok: true, seq: 3, duplicate: false });
    expect(messaging.writer.stats.lookedUpFirst).toBe(before.lookedUpFirst + 1);
    expect(await db.select().from(messages).where(eq(messages.conversationId, room))).toHaveLength(3);
    const sent = await db.select().from(auditLog).where(eq(auditLog.action, 'message.sent'));
    expect(
      sent
        .filter((r) => batch.some((m) => m.id === r.resourceId))
        .map((r) => r.resourceId)
        .sort(),
      // The retried id keeps the one entry of its first send.
    ).toEqual([batch[0]!.id, batch[1]!.id, batch[3]!.id].sort());
  });

  it('two nodes and other audit writers at once: gap-free seqs, one audit entry per message, and the chain verifies', async () => {
    // A database of its own: the whole chain is this test's, under one chain key.
    const own = await openTestEngine(engine);
    onTestFinished(() => own.close());
    const db = own.handle.db;
    const keys = nodeKeys();
    const nodes = [await chatNode(db, keys), await chatNode(db, keys)];
    const s = await seedClinic(db);
    const other = await seedClinic(db);
    const rooms = [
      (
        await nodes[0]!.messaging
          .forActor(userActor(s.doctorId, 'doctor', [s.clinicId], 'admitted'))
          .roomConversation(s.appointmentId)
      ).id,
      (
        await nodes[0]!.messaging
          .forActor(userActor(other.doctorId, 'doctor', [other.clinicId], 'admitted'))
          .roomConversation(other.appointmentId)
      ).id,
    ];
    const senders = [
      userActor(s.doctorId, 'doctor', [s.clinicId], 'admitted'),
      userActor(other.doctorId, 'doctor', [other.clinicId], 'admitted'),
    ];
    const acks = await Promise.all(
      Array.from({ length: 240 }, async (_, i) => {
        const node = nodes[i % 2]!;
        // Entries of other kinds move the chain's head between the writers' guesses.
        if (i % 10 === 0)
          await node.audit.record({
            action: 'audit.chain_keyed',
            outcome: 'allowed',
            resourceType: 'audit_log',
          });
        const c = (i >> 1) % 2;
        return {
          c,
          ack: await node.messaging
            .forActor(senders[c]!)
            .send(rooms[c]!, { id: randomUUID(), body: `m${i}` }),
        };
      }),
    );
    for (const c of [0, 1]) {
      const seqs = acks
        .filter((a) => a.c === c)
        .map((a) => a.ack.seq)
        .sort((x, y) => x - y);
      expect(seqs).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
    }
    const sent = await db.select().from(auditLog).where(eq(auditLog.action, 'message.sent'));
    const ids = new Set(acks.map((a) => a.ack.id));
    expect(sent.filter((r) => ids.has(r.resourceId!))).toHaveLength(240);
    expect(await nodes[0]!.audit.verify()).toMatchObject({ ok: true });
  });

  it('care threads: opened once by either side when eligible; patients only if the clinic lets them', async () => {
    const db = t.handle.db;
    const { messaging } = await chatNode(db, nodeKeys());
    const s = await seedClinic(db);
    const pair = { clinicId: s.clinicId, doctorId: s.doctorId, patientId: s.patientId };
    const patient = messaging.forActor(userActor(s.patientId, 'patient', [s.clinicId]));
    const doctor = messaging.forActor(userActor(s.doctorId, 'doctor', [s.clinicId]));
    await messaging.setPatientsMayOpenThreads(s.clinicId, false);
    expect(await code(patient.openCareThread(pair))).toBe('forbidden');
    const [x, y] = await Promise.all([doctor.openCareThread(pair), doctor.openCareThread(pair)]);
    expect(x.id).toBe(y.id);
    // The thread exists: the patient finds it and replies.
    expect((await patient.openCareThread(pair)).id).toBe(x.id);
    await patient.send(x.id, { id: randomUUID(), body: 'thank you' });
    // No shared appointment or care relationship: no thread.
    const stranger = messaging.forActor(userActor(s.otherDoctorId, 'doctor', [s.clinicId]));
    expect(await code(stranger.openCareThread({ ...pair, doctorId: s.otherDoctorId }))).toBe('forbidden');
    // A guardian acting for the dependent, who has an appointment with the doctor.
    await messaging.setPatientsMayOpenThreads(s.clinicId, true);
    const guardian = messaging.forActor(userActor(s.guardianId, 'guardian', [], 'absent', s.dependentId));
    const dep = await guardian.openCareThread({ ...pair, patientId: s.dependentId });
    expect(dep.created).toBe(true);
    expect((await guardian.list()).map((c) => c.id)).toContain(dep.id);
    // Guests have no threads.
    expect(await code(messaging.forActor(guestActor(s.guestId, s.appointmentId)).openCareThread(pair))).toBe(
      'not_found',
    );
  });
});

it('Redis fan-out: two Messaging instances on two bus connections deliver to each other, filtered per reader', async () => {
  const t = await openTestEngine('postgres');
  const prefix = `test:${randomBytes(4).toString('hex')}:`;
  const busA = await createBus(TEST_REDIS_URL, prefix);
  const busB = await createBus(TEST_REDIS_URL, prefix);
  try {
    const keys = nodeKeys();
    const invalid: InvalidMessage[] = [];
    const typed = (bus: typeof busA) => new ClusterBus(bus, (i) => invalid.push(i));
    const a = (await chatNode(t.handle.db, keys, { bus: typed(busA) })).messaging;
    const b = (await chatNode(t.handle.db, keys, { bus: typed(busB) })).messaging;
    const s = await seedClinic(t.handle.db);
    const doctor = userActor(s.doctorId, 'doctor', [s.clinicId], 'admitted');
    const room = (await a.forActor(doctor).roomConversation(s.appointmentId)).id;
    const atDoctor: LiveEvent[] = [];
    const atGuest: LiveEvent[] = [];
    const stopDoctor = await b.forActor(doctor).subscribe(room, (e) => atDoctor.push(e));
    const stopGuest = await b
      .forActor(guestActor(s.guestId, s.appointmentId))
      .subscribe(room, (e) => atGuest.push(e));
    const waiting = a.forActor(userActor(s.patientId, 'patient', [s.clinicId], 'waiting'));
    await waiting.send(room, { id: randomUUID(), body: 'waiting here' });
    const admitted = a.forActor(userActor(s.patientId, 'patient', [s.clinicId], 'admitted'));
    await admitted.typing(room, true);
    await admitted.send(room, { id: randomUUID(), body: 'hello all' });
    await until(() => atDoctor.length >= 3 && atGuest.length >= 2);
    const bodies = (l: LiveEvent[]) => l.flatMap((e) => (e.type === 'message' ? [e.body] : []));
    expect(bodies(atDoctor)).toEqual(['waiting here', 'hello all']);
    expect(bodies(atGuest)).toEqual(['hello all']);
    expect(atGuest.some((e) => e.type === 'typing')).toBe(true);
    // A member that missed the publish catches up from the database.
    const missed = await b.forActor(doctor).after(room, 0);
    expect(missed.map((m) => m.body)).toEqual(['waiting here', 'hello all']);
    // Every event crossed Redis in the shape its channel's schema names.
    expect(invalid).toEqual([]);
    await stopDoctor();
    await stopGuest();
  } finally {
    await busA.close();
    await busB.close();
    await t.close();
  }
});
