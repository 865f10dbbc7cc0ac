import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { USER_ROLES } from '../../db/schema/index.ts';
import {
  createUser,
  guard,
  signIn,
  startIdentityHarness,
  storedProfile,
  type IdentityHarness,
} from '../../test/helpers/identity.ts';
import { booking, schedulingClinic, type SchedulingClinic } from '../../test/helpers/scheduling.ts';
import { escapeText, foldLine } from './ical.ts';

describe('.ics export', () => {
  it('escapes TEXT and folds at 75 octets without splitting UTF-8', () => {
    expect(escapeText('a,b;c\\d\ne')).toBe('a\\,b\\;c\\\\d\\ne');
    const long = `SUMMARY:${'Ü'.repeat(60)}`;
    const folded = foldLine(long);
    const lines = folded.split('\r\n');
    expect(lines.length).toBeGreaterThan(1);
    expect(lines.every((l) => Buffer.byteLength(l, 'utf8') <= 75)).toBe(true);
    expect(lines.slice(1).every((l) => l.startsWith(' '))).toBe(true);
    // Unfolding (remove CRLF + one space) gives the original back.
    expect(folded.replace(/\r\n /g, '')).toBe(long);
  });
});

describe('scheduling over HTTP: time zones, calendar feed, and authorization across clinics', () => {
  let h: IdentityHarness;
  let a: SchedulingClinic;
  let b: SchedulingClinic;
  let appointmentB: string;
  let questionnaireSecret: string;
  const tokens = new Map<string, string>();
  beforeAll(async () => {
    h = await startIdentityHarness();
    a = await schedulingClinic(h, { name: 'Clinic A' });
    // Clinic B's doctor works in New York hours, licensed in New York.
    b = await schedulingClinic(h, { name: 'Clinic B', timeZone: 'America/New_York', licence: 'US-NY' });
    questionnaireSecret = 'chest pain since Tuesday';
    const r = await h.call('POST', '/api/appointments', {
      token: b.patient.token,
      body: booking(b, b.patient.id, '2027-03-15T09:00:00-04:00', {
        patientJurisdiction: 'US-NY',
        questionnaire: [{ questionId: 'complaint', answer: questionnaireSecret }],
      }),
    });
    expect(r.status).toBe(201);
    appointmentB = r.body.id;
    for (const role of ['clinic_admin', 'doctor', 'operator', 'patient', 'guardian'] as const)
      tokens.set(`A:${role}`, a[role === 'clinic_admin' ? 'admin' : role].token);
    tokens.set(
      'A:partner',
      (
        await signIn(
          h.call,
          h.db,
          (await createUser(h.identity, h.db, { role: 'partner', clinicId: a.clinicId })).email,
        )
      ).accessToken,
    );
    tokens.set(
      'admin',
      (await signIn(h.call, h.db, (await createUser(h.identity, h.db, { role: 'admin' })).email)).accessToken,
    );
    tokens.set(
      'B:partner',
      (
        await signIn(
          h.call,
          h.db,
          (await createUser(h.identity, h.db, { role: 'partner', clinicId: b.clinicId })).email,
        )
      ).accessToken,
    );
    tokens.set(
      'B:other-patient',
      (
        await signIn(
          h.call,
          h.db,
          (await createUser(h.identity, h.db, { role: 'patient', clinicId: b.clinicId })).email,
        )
      ).accessToken,
    );
    const otherDoctor = await createUser(h.identity, h.db, { role: 'doctor', clinicId: b.clinicId });
    tokens.set('B:other-doctor', (await signIn(h.call, h.db, otherDoctor.email)).accessToken);
    expect(USER_ROLES.length).toBe(7);
  });
  afterAll(() => h.close());

  it('slots in New York across the spring-forward week keep 09:00 local (13:00Z after, 14:00Z before)', async () => {
    const r = await h.call(
      'GET',
      `/api/doctors/${b.doctor.id}/slots?from=2027-03-12&to=2027-03-15&consultTypeId=${b.consultTypeId}`,
      { token: b.patient.token },
    );
    expect(r.status).toBe(200);
    expect(r.body.timeZone).toBe('America/New_York');
    const nineLocal = r.body.slots.filter((s: any) => s.local.includes('T09:00'));
    // Friday 12th (EST, -5): 09:00 = 14:00Z. Monday 15th 09:00 is taken (booked in beforeAll).
    expect(nineLocal.map((s: any) => [s.startsAt, s.local])).toEqual([
      ['2027-03-12T14:00:00.000Z', '2027-03-12T09:00:00-05:00'],
    ]);
    // 15 March 09:00 is booked (see beforeAll), so that day starts at 09:30 EDT.
    expect(r.body.slots.find((s: any) => s.startsAt.startsWith('2027-03-15'))).toMatchObject({
      startsAt: '2027-03-15T13:30:00.000Z',
      local: '2027-03-15T09:30:00-04:00',
    });
    // 16 slots a day (09:00-17:00, 30 minutes) on Friday 12th, 15 on Monday 15th; none on the weekend.
    expect(r.body.slots).toHaveLength(31);
  });

  it('the doctor exports their calendar as RFC 5545 text with UTC times and no patient data', async () => {
    const r = await h.app.request(
      `/api/doctors/${b.doctor.id}/calendar.ics`,
      { headers: { authorization: `Bearer ${b.doctor.token}` } },
      { remoteAddress: '203.0.113.7' },
    );
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/calendar');
    const text = await r.text();
    expect(text.startsWith('BEGIN:VCALENDAR\r\nVERSION:2.0\r\n')).toBe(true);
    expect(text.endsWith('END:VCALENDAR\r\n')).toBe(true);
    expect(text.split('\r\n').every((l) => Buffer.byteLength(l) <= 75)).toBe(true);
    expect(text).not.toMatch(/[^\r]\n/);
    expect(text).toContain('DTSTART:20270315T130000Z');
    expect(text).toContain('DTEND:20270315T133000Z');
    expect(text).toContain(`UID:${appointmentB}@carecall`);
    expect(text).toContain('STATUS:CONFIRMED');
    const patient = await storedProfile(h.db, b.patient.id);
    for (const secret of [patient.displayName, patient.email!, questionnaireSecret, b.patient.id])
      expect(text).not.toContain(secret);
    // Nobody else's calendar: not the operator, not another doctor.
    expect(
      (await h.call('GET', `/api/doctors/${b.doctor.id}/calendar.ics`, { token: b.operator.token })).status,
    ).toBe(403);
    expect(
      (
        await h.call('GET', `/api/doctors/${b.doctor.id}/calendar.ics`, {
          token: tokens.get('B:other-doctor'),
        })
      ).status,
    ).toBe(403);
  });

  it('every role of another clinic, the platform admin and the wrong insiders are refused on clinic B, with 0 leaks', async () => {
    const slotBody = booking(b, b.patient.id, '2027-03-16T10:00:00-04:00', { patientJurisdiction: 'US-NY' });
    const probes: {
      name: string;
      method: string;
      path: string;
      body?: unknown;
      headers?: Record<string, string>;
    }[] = [
      { name: 'read appointment', method: 'GET', path: `/api/appointments/${appointmentB}` },
      {
        name: 'list patient appointments',
        method: 'GET',
        path: `/api/appointments?patientId=${b.patient.id}`,
      },
      { name: 'book for patient B', method: 'POST', path: '/api/appointments', body: slotBody },
      {
        name: 'book for dependent B',
        method: 'POST',
        path: '/api/appointments',
        body: { ...slotBody, patientId: b.dependent.id },
        headers: { 'x-on-behalf-of': b.dependent.id },
      },
      {
        name: 'reschedule',
        method: 'POST',
        path: `/api/appointments/${appointmentB}/reschedule`,
        body: { startsAt: '2027-03-16T11:00:00-04:00', reason: 'please move' },
      },
      {
        name: 'cancel',
        method: 'POST',
        path: `/api/appointments/${appointmentB}/cancel`,
        body: { reason: 'intruder' },
      },
      {
        name: 'confirm/check in',
        method: 'POST',
        path: `/api/appointments/${appointmentB}/transitions`,
        body: { to: 'checked_in' },
      },
      { name: 'doctor B appointments', method: 'GET', path: `/api/doctors/${b.doctor.id}/appointments` },
      { name: 'doctor B calendar', method: 'GET', path: `/api/doctors/${b.doctor.id}/calendar.ics` },
      {
        name: 'doctor B slots',
        method: 'GET',
        path: `/api/doctors/${b.doctor.id}/slots?from=2027-03-15&to=2027-03-16&consultTypeId=${b.consultTypeId}`,
      },
      {
        name: 'doctor B schedule',
        method: 'PUT',
        path: `/api/doctors/${b.doctor.id}/schedule`,
        body: { timeZone: 'UTC', rules: [] },
      },
      { name: 'doctor B licences', method: 'GET', path: `/api/doctors/${b.doctor.id}/licences` },
      {
        name: 'add licence to doctor B',
        method: 'POST',
        path: `/api/doctors/${b.doctor.id}/licences`,
        body: {
          jurisdiction: 'FR',
          number: 'x',
          validFrom: '2020-01-01T00:00:00Z',
          expiresAt: '2040-01-01T00:00:00Z',
        },
      },
      {
        name: 'clinic B consult types',
        method: 'POST',
        path: `/api/scheduling/clinics/${b.clinicId}/consult-types`,
        body: { name: 'Free', kind: 'video', durationMinutes: 30, priceMinor: 0, currency: 'EUR' },
      },
      {
        name: 'clinic B settings',
        method: 'PATCH',
        path: `/api/scheduling/clinics/${b.clinicId}/settings`,
        body: { requiresApproval: true },
      },
      {
        name: 'dispatch for patient B',
        method: 'POST',
        path: '/api/dispatch',
        body: {
          clinicId: b.clinicId,
          patientId: b.patient.id,
          consultTypeId: b.consultTypeId,
          patientJurisdiction: 'US-NY',
          doctorIds: [b.doctor.id],
          intervalSeconds: 30,
        },
      },
    ];
    const insiderProbes = [
      'read appointment',
      'list patient appointments',
      'book for patient B',
      'book for dependent B',
      'reschedule',
      'cancel',
      'confirm/check in',
      'doctor B appointments',
      'doctor B calendar',
      'add licence to doctor B',
      'clinic B consult types',
      'clinic B settings',
      'dispatch for patient B',
    ];
    const cases = [
      ...[...tokens.keys()]
        .filter((k) => k.startsWith('A:') || k === 'admin')
        .flatMap((who) => probes.map((p) => [who, p] as const)),
      ...['B:partner', 'B:other-patient'].flatMap((who) =>
        probes.filter((p) => insiderProbes.includes(p.name)).map((p) => [who, p] as const),
      ),
    ];
    const patient = await storedProfile(h.db, b.patient.id);
    const secrets = [patient.displayName, patient.email!, questionnaireSecret];
    const leaks: string[] = [];
    for (const [who, p] of cases) {
      const r = await h.call(p.method, p.path, {
        token: tokens.get(who)!,
        ...(p.body ? { body: p.body } : {}),
        ...(p.headers ? { headers: p.headers } : {}),
      });
      const text = JSON.stringify(r.body ?? '');
      if (
        ![403, 404].includes(r.status) ||
        secrets.some((s) => text.includes(s)) ||
        (text.includes(appointmentB) && r.status !== 403)
      )
        leaks.push(`${who} -> ${p.name}: ${r.status} ${text.slice(0, 100)}`);
    }
    expect(cases.length).toBeGreaterThan(100);
    expect(leaks).toEqual([]);
    // Nothing changed: still one appointment, confirmed, at the same time.
    const view = await h.call('GET', `/api/appointments/${appointmentB}`, { token: b.patient.token });
    expect(view.body).toMatchObject({ status: 'confirmed', startsAt: '2027-03-15T13:00:00.000Z' });
    expect(
      (await h.call('GET', `/api/doctors/${b.doctor.id}/appointments`, { token: b.doctor.token })).body
        .appointments,
    ).toHaveLength(1);
  });

  it("a patient cannot book for someone else's dependent, nor a guardian for a child that is not theirs", async () => {
    // Patient of the same clinic books naming the dependent: refused, as if there were no such patient.
    const asPatient = await h.call('POST', '/api/appointments', {
      token: b.patient.token,
      body: booking(b, b.dependent.id, '2027-03-16T10:00:00-04:00', { patientJurisdiction: 'US-NY' }),
    });
    expect(asPatient.status).toBe(404);
    // A guardian of another child in the same clinic, claiming to act for B's dependent: refused at on-behalf-of.
    const otherGuardian = await createUser(h.identity, h.db, { role: 'guardian', clinicId: b.clinicId });
    const child = await createUser(h.identity, h.db, {
      role: 'patient',
      clinicId: b.clinicId,
      email: null,
      password: null,
      dateOfBirth: '2019-01-01',
    });
    await guard(h.db, otherGuardian.id, child.id);
    const tok = (await signIn(h.call, h.db, otherGuardian.email)).accessToken;
    const spoof = await h.call('POST', '/api/appointments', {
      token: tok,
      headers: { 'x-on-behalf-of': b.dependent.id },
      body: booking(b, b.dependent.id, '2027-03-16T10:00:00-04:00', { patientJurisdiction: 'US-NY' }),
    });
    expect(spoof.status).toBe(404);
    // Acting for their own child but naming B's dependent in the body: refused.
    const mismatch = await h.call('POST', '/api/appointments', {
      token: tok,
      headers: { 'x-on-behalf-of': child.id },
      body: booking(b, b.dependent.id, '2027-03-16T10:00:00-04:00', { patientJurisdiction: 'US-NY' }),
    });
    expect(mismatch.status).toBe(404);
    // Positive control: the real guardian, acting for the dependent.
    const ok = await h.call('POST', '/api/appointments', {
      token: b.guardian.token,
      headers: { 'x-on-behalf-of': b.dependent.id },
      body: booking(b, b.dependent.id, '2027-03-16T10:00:00-04:00', { patientJurisdiction: 'US-NY' }),
    });
    expect(ok.status).toBe(201);
    const denied = await h.identity.audit.query({
      patientId: b.dependent.id,
      action: 'appointment.book',
      limit: 20,
    });
    expect(denied.filter((e) => e.outcome === 'denied').length).toBeGreaterThanOrEqual(2);
  });
});
