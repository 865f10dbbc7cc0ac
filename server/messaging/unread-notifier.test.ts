import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../db/client.ts';
import { notificationOutbox, users } from '../../db/schema/index.ts';
import { ENGINES, openTestEngine } from '../../test/helpers/engines.ts';
import { chatNode, nodeKeys, seedClinic, userActor } from './test-support/chat-fixture.ts';

describe.each(ENGINES)('unread chat e-mails on %s', (engine) => {
  let t: Awaited<ReturnType<typeof openTestEngine>>;
  let db: Db;
  beforeAll(async () => {
    t = await openTestEngine(engine);
    db = t.handle.db;
  });
  afterAll(() => t?.close());

  const mailsTo = async (userId: string) => {
    const [u] = await db.select({ email: users.email }).from(users).where(eq(users.id, userId));
    return db.select().from(notificationOutbox).where(eq(notificationOutbox.recipient, u!.email!));
  };

  it('after the delay, once per batch of unread messages, to the member only, without message text; two workers never double', async () => {
    const keys = nodeKeys();
    const a = (await chatNode(db, keys, { config: { unreadNotifyMs: 60_000 } })).messaging;
    const b = (await chatNode(db, keys, { config: { unreadNotifyMs: 60_000 } })).messaging;
    const s = await seedClinic(db);
    const doctor = a.forActor(userActor(s.doctorId, 'doctor', [s.clinicId]));
    const thread = await doctor.openCareThread({
      clinicId: s.clinicId,
      doctorId: s.doctorId,
      patientId: s.patientId,
    });
    const secret = `Your biopsy result ${randomUUID()}`;
    await doctor.send(thread.id, { id: randomUUID(), body: secret });
    await doctor.send(thread.id, { id: randomUUID(), body: 'second' });

    // Not yet due.
    expect(await a.unreadNotifier.runOnce(new Date())).toBe(0);
    const later = new Date(Date.now() + 61_000);
    // Two nodes' workers in the same pass: one e-mail.
    const [x, y] = await Promise.all([a.unreadNotifier.runOnce(later), b.unreadNotifier.runOnce(later)]);
    expect(x + y).toBe(1);
    const mails = await mailsTo(s.patientId);
    expect(mails).toHaveLength(1);
    expect(mails[0]!.body).not.toContain(secret);
    expect(mails[0]!.body).not.toContain('biopsy');
    // The sender gets none for their own messages.
    expect(await mailsTo(s.doctorId)).toHaveLength(0);
    // Same batch: nothing more. A newer message that stays unread: one more.
    expect(await a.unreadNotifier.runOnce(new Date(later.getTime() + 1000))).toBe(0);
    await doctor.send(thread.id, { id: randomUUID(), body: 'third' });
    expect(await a.unreadNotifier.runOnce(new Date(Date.now() + 61_000))).toBe(1);
    expect(await mailsTo(s.patientId)).toHaveLength(2);
    // Read messages are never mailed about.
    await doctor.send(thread.id, { id: randomUUID(), body: 'fourth' });
    await a.forActor(userActor(s.patientId, 'patient', [s.clinicId])).markRead(thread.id, 4);
    expect(await a.unreadNotifier.runOnce(new Date(Date.now() + 61_000))).toBe(0);
  });
});
