import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIdentityHarness, type IdentityHarness } from '../../test/helpers/identity.ts';
import { booking, schedulingClinic, type SchedulingClinic } from '../../test/helpers/scheduling.ts';

// Wednesday 3 March 2027, 10:00 Berlin = 09:00Z; 30-minute video consult.
const START = '2027-03-03T10:00:00+01:00';
const START_Z = Date.parse('2027-03-03T09:00:00Z');
const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());

describe('join tokens and guest links for video consultations', () => {
  let h: IdentityHarness;
  let c: SchedulingClinic;
  let other: SchedulingClinic;
  let appointmentId: string;
  let dependentAppointmentId: string;
  const joinAs = (token: string, id = appointmentId, headers: Record<string, string> = {}) =>
    h.call('POST', `/api/appointments/${id}/join-token`, { token, headers });

  beforeAll(async () => {
    h = await startIdentityHarness();
    c = await schedulingClinic(h);
    other = await schedulingClinic(h, { name: 'Other clinic' });
    const a = await h.call('POST', '/api/appointments', {
      token: c.patient.token,
      body: booking(c, c.patient.id, START),
    });
    expect(a.status).toBe(201);
    appointmentId = a.body.id;
    const d = await h.call('POST', '/api/appointments', {
      token: c.guardian.token,
      headers: { 'x-on-behalf-of': c.dependent.id },
      body: booking(c, c.dependent.id, '2027-03-03T11:00:00+01:00'),
    });
    expect(d.status).toBe(201);
    dependentAppointmentId = d.body.id;
    h.clock.now = new Date(START_Z - 5 * 60_000);
  });
  afterAll(() => h.close());

  it('the patient and the assigned doctor get tokens for the same opaque room, with their roles', async () => {
    const p = await joinAs(c.patient.token);
    const d = await joinAs(c.doctor.token);
    expect(p.status).toBe(201);
    expect(d.status).toBe(201);
    const pc = claimsOf(p.body.token);
    const dc = claimsOf(d.body.token);
    expect(pc.room).toBe(dc.room);
    expect(pc.room).toBe(p.body.roomId);
    expect(pc.room).not.toContain(appointmentId.slice(0, 8));
    expect(pc).toMatchObject({ sub: c.patient.id, role: 'patient', perms: ['publish', 'subscribe'] });
    expect(dc).toMatchObject({
      sub: c.doctor.id,
      role: 'doctor',
      perms: ['publish', 'subscribe', 'admit', 'moderate'],
    });
    expect([pc.cap, dc.cap], 'a consultation type admits 8 unless its clinic says otherwise').toEqual([8, 8]);
    expect(p.body.path).toBe(`/app/#token=${encodeURIComponent(p.body.token)}`);
    // Valid until the room closes: end (09:30Z) + 30 min, seen from the clock (08:55Z) = 65 min.
    expect(pc.exp - pc.iat).toBeGreaterThanOrEqual(65 * 60 - 2);
    expect(pc.exp - pc.iat).toBeLessThanOrEqual(65 * 60 + 2);
    // Another appointment (the dependent's, at 10:00Z) has another room.
    h.clock.now = new Date(Date.parse('2027-03-03T09:50:00Z'));
    const g = await joinAs(c.guardian.token, dependentAppointmentId, { 'x-on-behalf-of': c.dependent.id });
    h.clock.now = new Date(START_Z - 5 * 60_000);
    expect(g.status).toBe(201);
    expect(claimsOf(g.body.token)).toMatchObject({ sub: c.guardian.id, role: 'patient' });
    expect(claimsOf(g.body.token).room).not.toBe(pc.room);
  });

  it('nobody else gets a token: 0 leaks across roles, patients and clinics', async () => {
    const outsiders: [string, string, Record<string, string>?][] = [
      ['operator (arranges, does not attend)', c.operator.token],
      ['clinic admin', c.admin.token],
      ['guardian not acting for the patient', c.guardian.token],
      ['guardian acting for someone else', c.guardian.token, { 'x-on-behalf-of': c.dependent.id }],
      ['other clinic doctor', other.doctor.token],
      ['other clinic patient', other.patient.token],
      ['other clinic operator', other.operator.token],
      ['other clinic admin', other.admin.token],
    ];
    for (const [label, token, headers] of outsiders) {
      const r = await joinAs(token, appointmentId, headers ?? {});
      expect([403, 404], label).toContain(r.status);
      expect(r.contentType, label).toContain('application/problem+json');
      expect(JSON.stringify(r.body), label).not.toMatch(/token"|roomId/);
    }
    // The patient cannot join the dependent's consultation, and does not learn that it exists.
    expect((await joinAs(c.patient.token, dependentAppointmentId)).status).toBe(404);
    expect((await h.call('POST', `/api/appointments/${appointmentId}/join-token`, {})).status).toBe(401);
    expect((await joinAs(c.patient.token, 'not-a-uuid')).status).toBe(400);
    expect((await joinAs(c.patient.token, '00000000-0000-4000-8000-000000000000')).status).toBe(404);
    // Refusals are audited like every PHI decision.
    const audit = await h.identity.audit.query({
      patientId: c.patient.id,
      action: 'consultation.join',
      limit: 50,
    });
    expect(audit.some((e) => e.outcome === 'denied' && e.actorId === other.doctor.id)).toBe(true);
  });

  it('only while the appointment is joinable: a window around it, and a joinable status', async () => {
    h.clock.now = new Date(START_Z - 60 * 60_000);
    expect((await joinAs(c.patient.token)).body).toMatchObject({ status: 409, code: 'not_joinable' });
    h.clock.now = new Date(START_Z + 61 * 60_000);
    expect((await joinAs(c.doctor.token)).body).toMatchObject({ status: 409, code: 'not_joinable' });
    h.clock.now = new Date(START_Z - 5 * 60_000);
    const cancelled = await h.call('POST', '/api/appointments', {
      token: c.patient.token,
      body: booking(c, c.patient.id, '2027-03-03T12:00:00+01:00'),
    });
    await h.call('POST', `/api/appointments/${cancelled.body.id}/cancel`, {
      token: c.patient.token,
      body: { reason: 'better' },
    });
    h.clock.now = new Date(Date.parse('2027-03-03T11:00:00Z') - 60_000);
    const r = await joinAs(c.patient.token, cancelled.body.id);
    expect(r.status).toBe(409);
    expect(r.body.detail).toContain('cancelled');
    h.clock.now = new Date(START_Z - 5 * 60_000);
  });

  describe('guests (interpreter, family member)', () => {
    it('the doctor invites; the link opens the room as a guest who knocks; revoking kills the link', async () => {
      const inv = await h.call('POST', `/api/appointments/${appointmentId}/guests`, {
        token: c.doctor.token,
        body: { kind: 'interpreter', displayName: 'Ana (interpreter)' },
      });
      expect(inv.status).toBe(201);
      expect(inv.body.link).toMatch(/^http:\/\/carecall\.test\/guest\/[A-Za-z0-9_-]{32}$/);
      const path = new URL(inv.body.link).pathname;
      const res = await h.app.request(path);
      expect(res.status).toBe(302);
      const token = decodeURIComponent(res.headers.get('location')!.split('#token=')[1]!);
      const claims = claimsOf(token);
      const patientRoom = claimsOf((await joinAs(c.patient.token)).body.token).room;
      expect(claims).toMatchObject({
        role: 'guest',
        perms: ['publish', 'subscribe'],
        name: 'Ana (interpreter)',
        room: patientRoom,
      });
      expect(claims.perms).not.toContain('admit');
      expect(
        (
          await h.call('DELETE', `/api/appointments/${appointmentId}/guests/${inv.body.id}`, {
            token: c.doctor.token,
          })
        ).status,
      ).toBe(204);
      expect((await h.app.request(path)).status).toBe(404);
      expect(
        (
          await h.call('DELETE', `/api/appointments/${appointmentId}/guests/${inv.body.id}`, {
            token: c.doctor.token,
          })
        ).status,
      ).toBe(404);
    });

    it('only the assigned doctor invites; bad input gets field errors; unknown links are 404', async () => {
      for (const token of [c.patient.token, c.operator.token]) {
        const r = await h.call('POST', `/api/appointments/${appointmentId}/guests`, {
          token,
          body: { kind: 'family', displayName: 'X' },
        });
        expect(r.status).toBe(403);
      }
      // Another clinic's doctor gets what an unknown appointment gets.
      expect(
        (
          await h.call('POST', `/api/appointments/${appointmentId}/guests`, {
            token: other.doctor.token,
            body: { kind: 'family', displayName: 'X' },
          })
        ).status,
      ).toBe(404);
      const bad = await h.call('POST', `/api/appointments/${appointmentId}/guests`, {
        token: c.doctor.token,
        body: { kind: 'friend', displayName: '' },
      });
      expect(bad.status).toBe(400);
      expect(bad.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['displayName', 'kind']);
      expect((await h.app.request('/guest/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).status).toBe(404);
      expect((await h.app.request('/guest/short')).status).toBe(404);
    });

    it('a guest link stops working when the consultation is over', async () => {
      const inv = await h.call('POST', `/api/appointments/${appointmentId}/guests`, {
        token: c.doctor.token,
        body: { kind: 'family', displayName: 'Sam' },
      });
      h.clock.now = new Date(START_Z + 61 * 60_000);
      expect((await h.app.request(new URL(inv.body.link).pathname)).status).toBe(404);
      h.clock.now = new Date(START_Z - 5 * 60_000);
    });
  });
});
