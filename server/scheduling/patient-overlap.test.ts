import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createUser,
  signIn,
  startIdentityHarness,
  type IdentityHarness,
} from '../../test/helpers/identity.ts';
import {
  booking,
  schedulingClinic,
  WEEKDAYS_9_TO_5,
  type SchedulingClinic,
} from '../../test/helpers/scheduling.ts';

describe('a patient is never in two appointments at once (exclusion constraint on the patient too)', () => {
  let h: IdentityHarness;
  let c: SchedulingClinic;
  let second: { id: string; token: string };
  let shortTypeId: string;
  beforeAll(async () => {
    h = await startIdentityHarness();
    c = await schedulingClinic(h);
    // A second doctor of the same clinic, with the same hours and licence.
    const u = await createUser(h.identity, h.db, { role: 'doctor', clinicId: c.clinicId });
    second = { id: u.id, token: (await signIn(h.call, h.db, u.email!)).accessToken };
    expect(
      (
        await h.call('PUT', `/api/doctors/${u.id}/schedule`, {
          token: second.token,
          body: { timeZone: 'Europe/Berlin', rules: WEEKDAYS_9_TO_5 },
        })
      ).status,
    ).toBe(200);
    const lic = await h.call('POST', `/api/doctors/${u.id}/licences`, {
      token: c.admin.token,
      body: {
        jurisdiction: 'DE',
        number: 'LIC-2',
        validFrom: '2020-01-01T00:00:00Z',
        expiresAt: '2035-01-01T00:00:00Z',
      },
    });
    expect(lic.status).toBe(201);
    // Bookings start on their type's slot grid: a partial overlap needs a type of another length.
    const short = await h.call('POST', `/api/scheduling/clinics/${c.clinicId}/consult-types`, {
      token: c.admin.token,
      body: { name: 'Short', kind: 'video', durationMinutes: 20, priceMinor: 2000, currency: 'EUR' },
    });
    shortTypeId = short.body.id;
  });
  afterAll(() => h.close());

  const withSecond = (startsAt: string) => ({ ...booking(c, c.patient.id, startsAt), doctorId: second.id });

  it('booking a second doctor over the patient’s own appointment is 409 patient_busy, audited; back to back and after cancelling are fine', async () => {
    const first = await h.call('POST', '/api/appointments', {
      token: c.patient.token,
      body: booking(c, c.patient.id, '2027-05-03T10:00:00+02:00'),
    });
    expect(first.status).toBe(201);
    const clash = await h.call('POST', '/api/appointments', {
      token: c.patient.token,
      body: { ...withSecond('2027-05-03T10:20:00+02:00'), consultTypeId: shortTypeId },
    });
    expect([clash.status, clash.body.code]).toEqual([409, 'patient_busy']);
    expect(clash.contentType).toContain('application/problem+json');
    const audit = await h.identity.audit.query({
      action: 'appointment.book',
      patientId: c.patient.id,
      limit: 10,
    });
    expect(audit.some((e) => e.outcome === 'failed' && e.reason === 'patient_busy')).toBe(true);
    expect(
      (
        await h.call('POST', '/api/appointments', {
          token: c.patient.token,
          body: withSecond('2027-05-03T10:30:00+02:00'),
        })
      ).status,
    ).toBe(201);
    // Another patient may see the second doctor at the clashing time.
    expect(
      (
        await h.call('POST', '/api/appointments', {
          token: c.operator.token,
          body: { ...withSecond('2027-05-03T11:00:00+02:00'), patientId: c.dependent.id },
        })
      ).status,
    ).toBe(201);
    await h.call('POST', `/api/appointments/${first.body.id}/cancel`, {
      token: c.patient.token,
      body: { reason: 'moved to the other doctor' },
    });
    // Cancelled, the first appointment no longer blocks the patient: 10:00 with the second doctor is fine now.
    expect(
      (
        await h.call('POST', '/api/appointments', {
          token: c.patient.token,
          body: withSecond('2027-05-03T10:00:00+02:00'),
        })
      ).status,
    ).toBe(201);
  });

  it('rescheduling onto the patient’s other appointment is 409 patient_busy', async () => {
    const a = await h.call('POST', '/api/appointments', {
      token: c.patient.token,
      body: booking(c, c.patient.id, '2027-05-04T09:00:00+02:00'),
    });
    const b = await h.call('POST', '/api/appointments', {
      token: c.patient.token,
      body: { ...withSecond('2027-05-04T11:20:00+02:00'), consultTypeId: shortTypeId },
    });
    expect([a.status, b.status]).toEqual([201, 201]);
    const moved = await h.call('POST', `/api/appointments/${a.body.id}/reschedule`, {
      token: c.patient.token,
      body: { startsAt: '2027-05-04T11:00:00+02:00', reason: 'later' },
    });
    expect([moved.status, moved.body.code]).toEqual([409, 'patient_busy']);
  });
});
