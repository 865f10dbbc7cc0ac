import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notificationOutbox } from '../../db/schema/index.ts';
import {
  createUser,
  signIn,
  startIdentityHarness,
  type IdentityHarness,
} from '../../test/helpers/identity.ts';
import { booking, schedulingClinic, type SchedulingClinic } from '../../test/helpers/scheduling.ts';
import { may } from '../policy/decide.ts';
import { reminderTime } from './reminder-outbox.ts';

describe("reminders in the patient's own time zone", () => {
  let h: IdentityHarness;
  let c: SchedulingClinic;
  let localPatient: { id: string; email: string; token: string };
  const setZone = (token: string, timeZone: unknown, headers: Record<string, string> = {}) =>
    h.call('PATCH', '/api/me', { token, body: { timeZone }, headers });
  const remindersTo = async (email: string) =>
    (await h.db.select().from(notificationOutbox).where(eq(notificationOutbox.recipient, email)))
      .filter((m) => m.template === 'appointment_reminder')
      .map((m) => m.body);

  beforeAll(async () => {
    h = await startIdentityHarness();
    // The doctor works in Berlin; the patient lives in New York.
    c = await schedulingClinic(h, { timeZone: 'Europe/Berlin' });
    const u = await createUser(h.identity, h.db, { role: 'patient', clinicId: c.clinicId });
    localPatient = { ...u, token: (await signIn(h.call, h.db, u.email)).accessToken };
  });
  afterAll(() => h.close());

  it('a patient sets, reads and clears their zone through /api/me (spelling normalised)', async () => {
    const set = await setZone(c.patient.token, 'america/new_york');
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ id: c.patient.id, timeZone: 'America/New_York' });
    expect((await h.call('GET', '/api/me', { token: c.patient.token })).body.timeZone).toBe(
      'America/New_York',
    );
    expect((await setZone(c.patient.token, null)).body.timeZone).toBeNull();
    expect((await h.call('GET', '/api/me', { token: c.patient.token })).body.timeZone).toBeNull();
    // A guardian receives their dependents' reminders, so they may set theirs too.
    expect((await setZone(c.guardian.token, 'Asia/Tokyo')).body.timeZone).toBe('Asia/Tokyo');
  });

  it('bad zones and bad bodies are 400 problem+json with field errors, changing nothing', async () => {
    await setZone(c.patient.token, 'America/New_York');
    const cases: [unknown, string][] = [
      [{ timeZone: 'Mars/Olympus' }, 'timeZone'],
      [{ timeZone: '' }, 'timeZone'],
      [{ timeZone: '+25:00' }, 'timeZone'],
      [{ timeZone: 'x'.repeat(65) }, 'timeZone'],
      [{ timeZone: 42 }, 'timeZone'],
      [{}, 'timeZone'],
      [{ timeZone: 'UTC', displayName: 'not settable here' }, '(body)'],
    ];
    for (const [body, field] of cases) {
      const r = await h.call('PATCH', '/api/me', { token: c.patient.token, body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.contentType).toBe('application/problem+json');
      expect(
        r.body.errors.map((e: { field: string }) => e.field),
        JSON.stringify(body),
      ).toContain(field);
      expect(r.body.errors.every((e: { message: unknown }) => typeof e.message === 'string')).toBe(true);
    }
    expect((await setZone(c.patient.token, 'Mars/Olympus')).body.errors).toEqual([
      { field: 'timeZone', message: 'must be an IANA time zone such as America/New_York' },
    ]);
    const notJson = await h.call('PATCH', '/api/me', { token: c.patient.token, body: '{oops' });
    expect(notJson.status).toBe(400);
    expect((await h.call('GET', '/api/me', { token: c.patient.token })).body.timeZone).toBe(
      'America/New_York',
    );
  });

  it('only patients and guardians set a zone, for themselves: staff 403, acting for a dependent 403, no token 401', async () => {
    for (const [who, token] of [
      ['doctor', c.doctor.token],
      ['operator', c.operator.token],
      ['clinic admin', c.admin.token],
    ] as const) {
      const r = await setZone(token, 'UTC');
      expect(r.status, who).toBe(403);
      expect(r.contentType).toBe('application/problem+json');
    }
    // A guardian acting for their dependent: the profile endpoint is the signed-in person's own.
    expect((await setZone(c.guardian.token, 'UTC', { 'x-on-behalf-of': c.dependent.id })).status).toBe(403);
    expect((await h.call('PATCH', '/api/me', { body: { timeZone: 'UTC' } })).status).toBe(401);
    expect((await h.call('GET', '/api/me', { token: c.doctor.token })).body.timeZone).toBeNull();
    const self = (role: 'patient' | 'doctor') => ({ userId: 'u1', role, sessionId: 's', clinicIds: [] });
    expect(may(self('patient'), 'user.time_zone.set', { type: 'user', userId: 'u1' }).allow).toBe(true);
    expect(may(self('patient'), 'user.time_zone.set', { type: 'user', userId: 'u2' }).allow).toBe(false);
    expect(may(self('doctor'), 'user.time_zone.set', { type: 'user', userId: 'u1' }).allow).toBe(false);
  });

  it('across the US spring-forward (EU not yet switched): New York time for the patient, Berlin time as before for others', async () => {
    await setZone(c.patient.token, 'America/New_York');
    // Friday 12 March 2027: New York on EST (-05:00). Monday 15 March: EDT (-04:00). Berlin on CET (+01:00) both days.
    for (const [patientId, token, startsAt] of [
      [c.patient.id, c.patient.token, '2027-03-12T09:00:00+01:00'],
      [c.patient.id, c.patient.token, '2027-03-15T09:00:00+01:00'],
      [localPatient.id, localPatient.token, '2027-03-15T10:00:00+01:00'],
    ] as const) {
      const r = await h.call('POST', '/api/appointments', { token, body: booking(c, patientId, startsAt) });
      expect(r.status, startsAt).toBe(201);
    }
    const dependent = await h.call('POST', '/api/appointments', {
      token: c.guardian.token,
      headers: { 'x-on-behalf-of': c.dependent.id },
      body: booking(c, c.dependent.id, '2027-03-15T11:00:00+01:00'),
    });
    expect(dependent.status).toBe(201);

    h.clock.now = new Date('2027-03-16T00:00:00Z');
    const run = await h.scheduling.reminders.runOnce();
    expect(run).toMatchObject({ claimed: 8, sent: 8, failed: 0 });

    const ny = await remindersTo(c.patient.email);
    expect(ny).toHaveLength(4); // two reminders (24 h and 1 h before) per appointment
    expect(ny.filter((b) => b.includes('at 2027-03-12T03:00:00-05:00 (America/New_York).'))).toHaveLength(2);
    expect(ny.filter((b) => b.includes('at 2027-03-15T04:00:00-04:00 (America/New_York).'))).toHaveLength(2);
    // No zone on the profile: what reminders said before, the doctor's zone.
    const local = await remindersTo(localPatient.email);
    expect(local).toHaveLength(2);
    expect(local.every((b) => b.includes('at 2027-03-15T10:00:00+01:00 (Europe/Berlin).'))).toBe(true);
    // A dependent's reminder reaches the guardian in the guardian's own zone.
    const guardian = await remindersTo(c.guardian.email);
    expect(guardian).toHaveLength(2);
    expect(guardian.every((b) => b.includes('at 2027-03-15T19:00:00+09:00 (Asia/Tokyo).'))).toBe(true);
  });

  it('reminderTime: the recipient zone wins, then the doctor zone, then UTC', () => {
    // New York falls back at 06:00Z on 7 November 2027: 01:30 happens twice, and the offset tells which.
    const at = new Date('2027-11-07T05:30:00Z');
    expect(reminderTime(at, 'America/New_York', 'Europe/Berlin')).toBe(
      '2027-11-07T01:30:00-04:00 (America/New_York)',
    );
    expect(reminderTime(new Date('2027-11-07T06:30:00Z'), 'America/New_York', 'Europe/Berlin')).toBe(
      '2027-11-07T01:30:00-05:00 (America/New_York)',
    );
    expect(reminderTime(at, null, 'Europe/Berlin')).toBe('2027-11-07T06:30:00+01:00 (Europe/Berlin)');
    expect(reminderTime(at, null, null)).toBe('2027-11-07T05:30:00.000Z');
  });
});
