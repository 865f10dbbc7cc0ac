import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createClinic,
  createUser,
  relate,
  signIn,
  startIdentityHarness,
  type IdentityHarness,
} from '../../test/helpers/identity.ts';

describe('chat over HTTP (real PostgreSQL, the real app)', () => {
  let h: IdentityHarness;
  let clinicId: string;
  const ids: Record<string, string> = {};
  const tokens: Record<string, string> = {};
  let thread: string;

  beforeAll(async () => {
    h = await startIdentityHarness({ MESSAGE_MAX_BYTES: '100', MESSAGE_RATE_BURST: '1000' });
    clinicId = await createClinic(h.db);
    const otherClinic = await createClinic(h.db, 'Other');
    const people = {
      doctor: { role: 'doctor' as const, clinicId },
      patient: { role: 'patient' as const, clinicId },
      otherDoctor: { role: 'doctor' as const, clinicId },
      operator: { role: 'operator' as const, clinicId },
      foreignDoctor: { role: 'doctor' as const, clinicId: otherClinic },
    };
    for (const [name, opts] of Object.entries(people)) {
      const u = await createUser(h.identity, h.db, opts);
      ids[name] = u.id;
      tokens[name] = (await signIn(h.call, h.db, u.email)).accessToken;
    }
    await relate(h.db, clinicId, ids.doctor!, ids.patient!);
  });
  afterAll(() => h?.close());

  const as = (who: string) => ({
    get: (path: string) => h.call('GET', `/api/conversations${path}`, { token: tokens[who] }),
    post: (path: string, body: unknown) =>
      h.call('POST', `/api/conversations${path}`, { token: tokens[who], body }),
  });
  const pair = () => ({ clinicId, doctorId: ids.doctor, patientId: ids.patient });

  it('opens a care thread once, sends with exactly-once acks, pages history and marks read', async () => {
    const opened = await as('doctor').post('/care', pair());
    expect(opened.status).toBe(201);
    thread = opened.body.id;
    expect((await as('patient').post('/care', pair())).body).toEqual({ id: thread, created: false });

    const id = randomUUID();
    const sent = await as('patient').post(`/${thread}/messages`, { id, body: 'my rash is worse' });
    expect(sent.status).toBe(201);
    expect(sent.body).toMatchObject({ id, seq: 1, duplicate: false });
    const retried = await as('patient').post(`/${thread}/messages`, { id, body: 'my rash is worse' });
    expect(retried.status).toBe(200);
    expect(retried.body).toMatchObject({ id, seq: 1, duplicate: true });
    await as('doctor').post(`/${thread}/messages`, { id: randomUUID(), body: 'send a photo, please' });

    const list = await as('doctor').get('');
    expect(list.body.conversations.find((c: { id: string }) => c.id === thread)).toMatchObject({ unread: 1 });
    const page = await as('doctor').get(`/${thread}/messages?limit=1`);
    expect(page.body.messages.map((m: { seq: number }) => m.seq)).toEqual([2]);
    expect(page.body.nextBefore).toBe(2);
    const older = await as('doctor').get(`/${thread}/messages?before=2`);
    expect(older.body.messages.map((m: { body: string }) => m.body)).toEqual(['my rash is worse']);
    const after = await as('patient').get(`/${thread}/messages?after=1`);
    expect(after.body.messages.map((m: { body: string }) => m.body)).toEqual(['send a photo, please']);
    expect((await as('doctor').post(`/${thread}/read`, { seq: 2 })).body).toEqual({ seq: 2 });
    const again = await as('doctor').get('');
    expect(again.body.conversations.find((c: { id: string }) => c.id === thread)).toMatchObject({
      unread: 0,
    });
  });

  it('edits and deletes over HTTP show as edited and deleted', async () => {
    const id = randomUUID();
    await as('patient').post(`/${thread}/messages`, { id, body: 'typo' });
    const edited = await h.call('PATCH', `/api/conversations/${thread}/messages/${id}`, {
      token: tokens.patient,
      body: { body: 'fixed' },
    });
    expect(edited.body).toMatchObject({ body: 'fixed', edited: true });
    const removed = await h.call('DELETE', `/api/conversations/${thread}/messages/${id}`, {
      token: tokens.patient,
    });
    expect(removed.status).toBe(204);
    const page = await as('doctor').get(`/${thread}/messages?limit=1`);
    expect(page.body.messages[0]).toMatchObject({ id, deleted: true, body: null });
  });

  it('outsiders get 404 for everything and do not see the thread listed; no token is 401', async () => {
    for (const who of ['otherDoctor', 'operator', 'foreignDoctor']) {
      expect((await as(who).get(`/${thread}/messages`)).status, who).toBe(404);
      expect((await as(who).post(`/${thread}/messages`, { id: randomUUID(), body: 'hi' })).status, who).toBe(
        404,
      );
      expect((await as(who).post(`/${thread}/read`, { seq: 1 })).status, who).toBe(404);
      const list = await as(who).get('');
      expect(list.body.conversations.map((c: { id: string }) => c.id)).not.toContain(thread);
    }
    expect((await as('otherDoctor').post('/care', { ...pair(), doctorId: ids.otherDoctor })).status).toBe(
      403,
    );
    expect((await as('foreignDoctor').post('/care', { ...pair(), doctorId: ids.foreignDoctor })).status).toBe(
      404,
    );
    expect((await h.call('GET', '/api/conversations')).status).toBe(401);
  });

  it('bad input: typed problem+json errors', async () => {
    const send = (body: unknown) => as('patient').post(`/${thread}/messages`, body);
    const cases: [unknown, number, string][] = [
      [{ id: randomUUID(), body: '' }, 422, 'message_invalid'],
      [{ id: randomUUID(), body: 'x'.repeat(101) }, 413, 'message_too_large'],
      [{ id: 'nope', body: 'hi' }, 400, 'invalid_body'],
      [{ id: randomUUID(), body: 7 }, 400, 'invalid_body'],
      ['{not json', 400, 'invalid_body'],
    ];
    for (const [body, status, code] of cases) {
      const r = await send(body);
      expect([r.status, r.body.code], JSON.stringify(body)).toEqual([status, code]);
      expect(r.contentType).toContain('application/problem+json');
    }
    expect((await as('patient').get(`/${thread}/messages?after=1&before=3`)).status).toBe(400);
    expect((await as('patient').get(`/${thread}/messages?limit=0`)).status).toBe(400);
    expect((await as('patient').get('/not-a-uuid/messages')).status).toBe(400);
    expect((await as('patient').post(`/${thread}/read`, { seq: -3 })).status).toBe(400);
  });
});
