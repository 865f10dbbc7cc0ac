import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLog } from '../../db/schema/index.ts';
import {
  createClinic,
  createUser,
  lastMessage,
  signIn,
  startIdentityHarness,
  type IdentityHarness,
} from '../../test/helpers/identity.ts';

type Msg = { id: string; body: string | null; audience: string; senderId: string };

describe('live chat over HTTP (real PostgreSQL, the real app)', () => {
  let h: IdentityHarness;
  let clinicId: string;
  let otherClinic: string;
  const ids: Record<string, string> = {};
  const emails: Record<string, string> = {};
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    h = await startIdentityHarness({ MESSAGE_RATE_BURST: '1000', LIVECHAT_WORKER: 'off' });
    clinicId = await createClinic(h.db, 'Sunrise Clinic');
    otherClinic = await createClinic(h.db, 'Other');
    const people = {
      patient: { role: 'patient' as const, clinicId },
      secondPatient: { role: 'patient' as const, clinicId },
      otherPatient: { role: 'patient' as const, clinicId },
      operator: { role: 'operator' as const, clinicId },
      secondOperator: { role: 'operator' as const, clinicId },
      doctor: { role: 'doctor' as const, clinicId },
      otherDoctor: { role: 'doctor' as const, clinicId },
      admin: { role: 'clinic_admin' as const, clinicId },
      partner: { role: 'partner' as const, clinicId },
      foreignOperator: { role: 'operator' as const, clinicId: otherClinic },
    };
    for (const [name, opts] of Object.entries(people)) {
      const u = await createUser(h.identity, h.db, opts);
      ids[name] = u.id;
      emails[name] = u.email;
      tokens[name] = (await signIn(h.call, h.db, u.email)).accessToken;
    }
  }, 120_000);
  afterAll(() => h?.close());

  const as = (who: string) => ({
    get: (path: string) => h.call('GET', path, { token: tokens[who] }),
    post: (path: string, body: unknown = {}) => h.call('POST', path, { token: tokens[who], body }),
    put: (path: string, body: unknown) => h.call('PUT', path, { token: tokens[who], body }),
  });
  const say = (body: string) => ({ id: randomUUID(), body });
  const messagesOf = async (who: string, chat: string): Promise<Msg[]> => {
    const res = await as(who).get(`/api/conversations/${chat}/messages?after=0`);
    expect(res.status).toBe(200);
    return res.body.messages;
  };

  it('patient to operator to doctor: every message survives the transfer, notes stay with staff, the transcript is e-mailed', async () => {
    expect(
      (
        await as('operator').put(`/api/livechat/clinics/${clinicId}/presence`, {
          status: 'available',
          capacity: 2,
        })
      ).status,
    ).toBe(200);
    const first = say('I need to move my appointment');
    const started = await as('patient').post('/api/livechat/chats', { clinicId, message: first });
    expect(started.status).toBe(201);
    expect(started.body).toMatchObject({ status: 'assigned', assigneeId: ids.operator, position: null });
    const chat: string = started.body.conversationId;

    const sent: string[] = [first.id];
    const send = async (who: string, text: string) => {
      const m = say(text);
      const res = await as(who).post(`/api/conversations/${chat}/messages`, m);
      expect(res.status).toBe(201);
      sent.push(m.id);
    };
    await send('operator', 'Hello, I can help with that.');
    await send('patient', 'It is also about my test results');
    const handover = say('Asks about lab results, please take over');
    // The patient keeps writing while the chat changes hands.
    const [transferred] = await Promise.all([
      as('operator').post(`/api/livechat/chats/${chat}/transfer`, { toUserId: ids.doctor, note: handover }),
      send('patient', 'Are you still there?'),
    ]);
    expect(transferred.status).toBe(200);
    expect(transferred.body).toMatchObject({ status: 'assigned', assigneeId: ids.doctor });
    await send('patient', 'Thank you');
    await send('doctor', 'Your results are fine.');
    // The operator no longer holds it: they read it (the team's transcript) but do not write.
    expect((await as('operator').post(`/api/conversations/${chat}/messages`, say('still me'))).status).toBe(
      403,
    );

    const doctorView = await messagesOf('doctor', chat);
    const patientView = await messagesOf('patient', chat);
    expect(doctorView.map((m) => m.id)).toEqual(expect.arrayContaining([...sent, handover.id]));
    expect(doctorView.find((m) => m.id === handover.id)).toMatchObject({ audience: 'staff' });
    expect(patientView.map((m) => m.id).sort()).toEqual([...sent].sort());
    expect(patientView.some((m) => m.audience === 'staff')).toBe(false);
    // The doctor's app lists the chat.
    const list = await as('doctor').get('/api/conversations');
    expect(list.body.conversations.map((c: { id: string }) => c.id)).toContain(chat);

    const closed = await as('doctor').post(`/api/livechat/chats/${chat}/close`, {
      resolution: 'answered-by-doctor',
      emailTranscript: true,
    });
    expect(closed.status).toBe(200);
    expect(closed.body.status).toBe('closed');
    const mail = await lastMessage(h.db, emails.patient!);
    expect(mail).toMatchObject({ template: 'livechat_transcript', subject: 'Your chat transcript' });
    expect(mail!.body).toContain('Your results are fine.');
    expect(mail!.body).toContain('You: Are you still there?');
    expect(mail!.body).not.toContain('please take over');
    const closedSend = await as('patient').post(`/api/conversations/${chat}/messages`, say('one more thing'));
    expect(closedSend.status).toBe(403);
    const actions = await h.db
      .select({ action: auditLog.action })
      .from(auditLog)
      .where(and(eq(auditLog.resourceId, chat), eq(auditLog.outcome, 'allowed')));
    expect(new Set(actions.map((a) => a.action))).toEqual(
      new Set([
        'livechat.started',
        'livechat.assigned',
        'livechat.transferred',
        'livechat.closed',
        'livechat.viewed',
        'livechat.transcript_sent',
        'conversation.read',
      ]),
    );
  }, 60_000);

  it('nobody outside the chat learns it exists: other clinic, partner, other patient, a doctor it was not given to (404)', async () => {
    const started = await as('secondPatient').post('/api/livechat/chats', { clinicId, message: say('hi') });
    const chat: string = started.body.conversationId;
    for (const who of ['foreignOperator', 'partner', 'otherPatient', 'otherDoctor']) {
      expect((await as(who).get(`/api/livechat/chats/${chat}`)).status, who).toBe(404);
      expect((await as(who).get(`/api/conversations/${chat}/messages?after=0`)).status, who).toBe(404);
      expect((await as(who).post(`/api/livechat/chats/${chat}/accept`)).status, who).toBe(404);
      expect((await as(who).post(`/api/livechat/chats/${chat}/close`, { resolution: 'x' })).status, who).toBe(
        404,
      );
    }
    for (const who of ['foreignOperator', 'partner', 'patient', 'doctor'])
      expect((await as(who).get(`/api/livechat/clinics/${clinicId}/queue`)).status, who).toBe(404);
    const refused = await h.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.resourceId, chat), eq(auditLog.outcome, 'denied')));
    expect(refused.length).toBeGreaterThanOrEqual(12);
    // Staff of the clinic see it: the admin supervises, the operator reads the queue.
    expect((await as('admin').get(`/api/livechat/chats/${chat}`)).status).toBe(200);
    expect((await as('secondOperator').get(`/api/livechat/clinics/${clinicId}/queue`)).status).toBe(200);
  }, 60_000);

  it('canned replies fill in the patient’s first name and the clinic; unknown placeholders are refused', async () => {
    const created = await as('operator').post(`/api/livechat/clinics/${clinicId}/canned-replies`, {
      shortcut: 'greet',
      body: 'Hello {patientFirstName}, welcome to {clinicName}!',
    });
    expect(created.status).toBe(201);
    const bad = await as('operator').post(`/api/livechat/clinics/${clinicId}/canned-replies`, {
      shortcut: 'bad',
      body: 'Hi {patientLastName}',
    });
    expect(bad.status).toBe(422);
    expect(bad.contentType).toContain('application/problem+json');
    await as('operator').put(`/api/livechat/clinics/${clinicId}/presence`, {
      status: 'available',
      capacity: 5,
    });
    const started = await as('otherPatient').post('/api/livechat/chats', {
      clinicId,
      message: say('hello?'),
    });
    expect(started.body).toMatchObject({ status: 'assigned', assigneeId: ids.operator });
    const chat: string = started.body.conversationId;
    const canned = await as('operator').post(`/api/livechat/chats/${chat}/canned`, {
      replyId: created.body.id,
      id: randomUUID(),
    });
    expect(canned.status).toBe(201);
    const shown = await messagesOf('otherPatient', chat);
    expect(shown.at(-1)!.body).toBe('Hello Test, welcome to Sunrise Clinic!');
  }, 60_000);

  it('bad input gets typed problems', async () => {
    const problem = async (
      res: Promise<{ status: number; body: any; contentType: string }>,
      status: number,
      code: string,
    ) => {
      const r = await res;
      expect(r.status).toBe(status);
      expect(r.contentType).toContain('application/problem+json');
      expect(r.body.code).toBe(code);
    };
    await problem(as('patient').post('/api/livechat/chats', { clinicId }), 400, 'invalid_body');
    await problem(
      as('patient').post('/api/livechat/chats', { clinicId: 'nope', message: say('x') }),
      400,
      'invalid_body',
    );
    await problem(
      as('patient').post('/api/livechat/chats', { clinicId, message: say('') }),
      422,
      'message_invalid',
    );
    await problem(
      as('operator').put(`/api/livechat/clinics/${clinicId}/presence`, { status: 'available', capacity: 99 }),
      400,
      'invalid_body',
    );
    await problem(
      as('operator').put(`/api/livechat/clinics/${clinicId}/presence`, { status: 'busy' }),
      400,
      'invalid_body',
    );
    await problem(
      as('admin').put(`/api/livechat/clinics/${clinicId}/settings`, {
        routingMode: 'random',
        noAnswerSeconds: 60,
      }),
      400,
      'invalid_body',
    );
    await problem(as('operator').get('/api/livechat/chats/not-a-uuid'), 400, 'invalid_path');
    await as('secondOperator').put(`/api/livechat/clinics/${clinicId}/presence`, { status: 'available' });
    const started = await as('patient').post('/api/livechat/chats', { clinicId, message: say('again') });
    const chat: string = started.body.conversationId;
    const holder = started.body.assigneeId === ids.operator ? 'operator' : 'secondOperator';
    const other = holder === 'operator' ? 'secondOperator' : 'operator';
    await problem(
      as(holder).post(`/api/livechat/chats/${chat}/close`, { resolution: 'Solved!' }),
      400,
      'invalid_body',
    );
    await problem(
      as(holder).post(`/api/livechat/chats/${chat}/transfer`, { toUserId: ids.foreignOperator }),
      422,
      'invalid_request',
    );
    await problem(as(other).post(`/api/livechat/chats/${chat}/accept`), 409, 'livechat_taken');
    await problem(as('patient').post(`/api/livechat/chats/${chat}/reopen`), 409, 'livechat_state');
  }, 60_000);
});
