import { randomBytes, randomUUID } from 'node:crypto';
import { and, eq, gt } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../db/client.ts';
import {
  auditLog,
  clinicMembers,
  clinics,
  consultationGuests,
  users,
  type UserRole,
} from '../../db/schema/index.ts';
import { ENGINES, openTestEngine } from '../../test/helpers/engines.ts';
import { ProblemError } from '../api/errors.ts';
import {
  contentFrom,
  createUpload,
  patch,
  startFilesNode,
  type FilesNode,
} from '../files/test-support/files-harness.ts';
import { guestActor, userActor } from './test-support/chat-fixture.ts';
import type { ChatActor } from './types.ts';

const code = async (p: Promise<unknown>) => {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    return err instanceof ProblemError ? err.code : String(err);
  }
};

/** Who must get nothing of a consultation's conversation, and what each is answered. */
type Outsider = {
  name: string;
  actor: () => ChatActor;
  /** The answer to a read and to a post: unknown conversation (not a member) or forbidden (known, not now). */
  answer: 'not_found' | 'forbidden';
  /** An account that can ask for a file link over HTTP (guests have no bearer token: files are not theirs to ask). */
  http?: { userId: string; role: UserRole };
  auditId: string;
};

describe.each(ENGINES)('authorization matrix of chat and files on %s', (engine) => {
  let node: FilesNode;
  let db: Db;
  let close: () => Promise<void>;
  let room: string;
  let fileId: string;
  const outsiders: Outsider[] = [];

  async function user(role: UserRole, clinicId: string) {
    const id = randomUUID();
    await db.insert(users).values({ id, role, email: `${id}@example.test`, displayName: role });
    await db.insert(clinicMembers).values({ clinicId, userId: id });
    return id;
  }

  beforeAll(async () => {
    const t = await openTestEngine(engine);
    db = t.handle.db;
    node = await startFilesNode(t.handle);
    close = async () => {
      await node.close();
      await t.close();
    };
    const s = node.seed;
    const doctor = userActor(s.doctorId, 'doctor', [s.clinicId], 'admitted');
    room = (await node.services.messaging.forActor(doctor).roomConversation(s.appointmentId)).id;
    await node.services.messaging.forActor(doctor).send(room, { id: randomUUID(), body: 'private' });
    const bytes = Buffer.concat([...contentFrom(0, 20_000)]);
    const token = await node.tokenFor(s.doctorId, 'doctor');
    const up = await createUpload(node.base, token, bytes.length, {
      conversationId: room,
      filename: 'report.pdf',
      filetype: 'application/pdf',
    });
    await patch(node.base, token, up.id!, 0, bytes);
    fileId = up.id!;

    const otherClinic = randomUUID();
    await db.insert(clinics).values({ id: otherClinic, name: 'Elsewhere' });
    const foreignDoctor = await user('doctor', otherClinic);
    const partner = await user('partner', s.clinicId);
    const revokedGuest = randomUUID();
    await db.insert(consultationGuests).values({
      id: revokedGuest,
      appointmentId: s.appointmentId,
      invitedBy: s.doctorId,
      kind: 'family',
      displayName: 'Revoked',
      keyHash: randomBytes(16).toString('hex'),
      expiresAt: new Date(Date.now() + 3_600_000),
      revokedAt: new Date(),
    });
    outsiders.push(
      {
        name: 'a member of another conversation (the patient of another appointment)',
        actor: () => userActor(s.dependentId, 'patient', [s.clinicId], 'admitted'),
        answer: 'not_found',
        http: { userId: s.dependentId, role: 'patient' },
        auditId: s.dependentId,
      },
      {
        name: 'a doctor of another clinic',
        actor: () => userActor(foreignDoctor, 'doctor', [otherClinic], 'admitted'),
        answer: 'not_found',
        http: { userId: foreignDoctor, role: 'doctor' },
        auditId: foreignDoctor,
      },
      {
        name: 'a partner of the clinic',
        actor: () => userActor(partner, 'partner', [s.clinicId], 'admitted'),
        answer: 'not_found',
        http: { userId: partner, role: 'partner' },
        auditId: partner,
      },
      {
        name: 'an expired guest',
        actor: () => guestActor(s.expiredGuestId, s.appointmentId, 'admitted'),
        answer: 'forbidden',
        auditId: `guest:${s.expiredGuestId}`,
      },
      {
        name: 'a revoked guest',
        actor: () => guestActor(revokedGuest, s.appointmentId, 'admitted'),
        answer: 'forbidden',
        auditId: `guest:${revokedGuest}`,
      },
    );
  }, 90_000);
  afterAll(() => close?.());

  it('outsiders cannot read, post, list or download: each answer typed, each refusal audited', async () => {
    const since = (await db.select({ seq: auditLog.seq }).from(auditLog)).reduce(
      (n, r) => Math.max(n, r.seq),
      0,
    );
    for (const o of outsiders) {
      const repo = node.services.messaging.forActor(o.actor());
      expect(await code(repo.after(room, 0)), `${o.name}: read`).toBe(o.answer);
      expect(await code(repo.catchUp(room, { after: 0 })), `${o.name}: catch-up`).toBe(o.answer);
      expect(await code(repo.history(room)), `${o.name}: history`).toBe(o.answer);
      expect(await code(repo.send(room, { id: randomUUID(), body: 'hi' })), `${o.name}: post`).toBe(o.answer);
      expect(await code(repo.markRead(room, 1)), `${o.name}: receipt`).toBe(o.answer);
      expect(
        (await repo.list()).map((c) => c.id),
        `${o.name}: list`,
      ).not.toContain(room);
      const denied = await db
        .select()
        .from(auditLog)
        .where(and(eq(auditLog.actorId, o.auditId), eq(auditLog.outcome, 'denied'), gt(auditLog.seq, since)));
      expect(new Set(denied.map((e) => e.action)), `${o.name}: refusals audited`).toEqual(
        new Set(['conversation.read', 'message.sent']),
      );
      if (!o.http) continue;
      const token = await node.tokenFor(o.http.userId, o.http.role);
      const res = await fetch(`${node.base}/api/files/${fileId}/link`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
      });
      expect([res.status, (await res.json()).code], `${o.name}: file link`).toEqual([404, 'not_found']);
      const upload = await createUpload(node.base, token, 100, {
        conversationId: room,
        filename: 'x.pdf',
        filetype: 'application/pdf',
      });
      expect(upload.status, `${o.name}: file upload`).toBe(404);
      const fileDenials = await db
        .select()
        .from(auditLog)
        .where(and(eq(auditLog.actorId, o.auditId), eq(auditLog.outcome, 'denied'), gt(auditLog.seq, since)));
      expect(
        fileDenials.map((e) => e.action),
        `${o.name}: file refusals audited`,
      ).toEqual(expect.arrayContaining(['file.link_issued', 'file.upload_created']));
    }
  });

  it('a waiting participant reads nothing and posts to the hosts only; over HTTP there is no waiting room', async () => {
    const s = node.seed;
    const waiting = node.services.messaging.forActor(
      userActor(s.patientId, 'patient', [s.clinicId], 'waiting'),
    );
    expect(await code(waiting.after(room, 0))).toBe('forbidden');
    expect(await code(waiting.catchUp(room, { after: 0 }))).toBe('forbidden');
    expect(await code(waiting.history(room))).toBe('forbidden');
    const knock = await waiting.send(room, { id: randomUUID(), body: 'my camera does not work' });
    const guest = node.services.messaging.forActor(guestActor(s.guestId, s.appointmentId, 'admitted'));
    expect((await guest.after(room, 0)).map((m) => m.id)).not.toContain(knock.id);
    const denied = await db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.actorId, s.patientId), eq(auditLog.outcome, 'denied')));
    expect(denied.filter((e) => e.action === 'conversation.read').length).toBeGreaterThanOrEqual(3);
  });
});
