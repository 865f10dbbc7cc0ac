import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appointments, reminderJobs } from '../../db/schema/index.ts';
import { startIdentityHarness, type IdentityHarness } from '../../test/helpers/identity.ts';
import { booking, schedulingClinic, type SchedulingClinic } from '../../test/helpers/scheduling.ts';

// Monday 29 March 2027, the day after Berlin springs forward: 09:00 local is 07:00Z.
const MON_0900_BERLIN = '2027-03-29T09:00:00+02:00';

describe('booking API: book, approve, walk the state machine, reschedule, cancel', () => {
  let h: IdentityHarness;
  let c: SchedulingClinic;
  beforeAll(async () => {
    h = await startIdentityHarness();
    c = await schedulingClinic(h);
  });
  afterAll(() => h.close());

  it('a patient books a free slot: confirmed at once (approval off), price and kind copied, reminders planned, activity logged', async () => {
    const r = await h.call('POST', '/api/appointments', {
      token: c.patient.token,
      body: booking(c, c.patient.id, MON_0900_BERLIN, {
        questionnaire: [
          { questionId: 'fever', answer: true },
          { questionId: 'symptoms', answer: 'cough for 3 days' },
        ],
      }),
    });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      status: 'confirmed',
      kind: 'video',
      priceMinor: 4500,
      currency: 'EUR',
      startsAt: '2027-03-29T07:00:00.000Z',
      endsAt: '2027-03-29T07:30:00.000Z',
      bookedBy: c.patient.id,
    });
    expect(r.body.questionnaire).toBeUndefined();
    const view = await h.call('GET', `/api/appointments/${r.body.id}`, { token: c.patient.token });
    expect(view.body.questionnaire).toEqual([
      { questionId: 'fever', answer: true },
      { questionId: 'symptoms', answer: 'cough for 3 days' },
    ]);
    expect(view.body.events.map((e: any) => [e.fromStatus, e.toStatus, e.event, e.actorId])).toEqual([
      [null, 'requested', 'booked', c.patient.id],
      ['requested', 'confirmed', 'auto_confirmed', null],
    ]);
    const jobs = await h.db.select().from(reminderJobs).where(eq(reminderJobs.appointmentId, r.body.id));
    expect(jobs.map((j) => j.dueAt.toISOString()).sort()).toEqual([
      '2027-03-28T07:00:00.000Z',
      '2027-03-29T06:00:00.000Z',
    ]);
    // The doctor sees the answers; the operator sees the appointment but not the answers.
    expect(
      (await h.call('GET', `/api/appointments/${r.body.id}`, { token: c.doctor.token })).body.questionnaire,
    ).toHaveLength(2);
    const op = await h.call('GET', `/api/appointments/${r.body.id}`, { token: c.operator.token });
    expect(op.status).toBe(200);
    expect(op.body.questionnaire).toBeUndefined();
    expect(JSON.stringify(op.body)).not.toContain('cough');
  });

  it('the same slot again, or an overlapping one, is 409 slot_taken; back-to-back is fine', async () => {
    const again = await h.call('POST', '/api/appointments', {
      token: c.operator.token,
      body: booking(c, c.patient.id, MON_0900_BERLIN),
    });
    expect(again.status).toBe(409);
    expect(again.contentType).toContain('application/problem+json');
    expect(again.body.code).toBe('slot_taken');
    // Partly overlapping: a 20-minute consult at 09:20 (on its own slot grid) over the 09:00-09:30 one.
    const short = await h.call('POST', `/api/scheduling/clinics/${c.clinicId}/consult-types`, {
      token: c.admin.token,
      body: { name: 'Short', kind: 'video', durationMinutes: 20, priceMinor: 2000, currency: 'EUR' },
    });
    const overlap = await h.call('POST', '/api/appointments', {
      token: c.operator.token,
      body: booking(c, c.patient.id, '2027-03-29T09:20:00+02:00', { consultTypeId: short.body.id }),
    });
    expect(overlap.body.code).toBe('slot_taken');
    const next = await h.call('POST', '/api/appointments', {
      token: c.operator.token,
      body: booking(c, c.patient.id, '2027-03-29T09:30:00+02:00'),
    });
    expect(next.status).toBe(201);
    // Slots reflect the two bookings.
    const slots = await h.call(
      'GET',
      `/api/doctors/${c.doctor.id}/slots?from=2027-03-29&to=2027-03-29&consultTypeId=${c.consultTypeId}`,
      { token: c.patient.token },
    );
    expect(slots.status).toBe(200);
    expect(slots.body.slots[0]).toEqual({
      startsAt: '2027-03-29T08:00:00.000Z',
      endsAt: '2027-03-29T08:30:00.000Z',
      local: '2027-03-29T10:00:00+02:00',
    });
    expect(slots.body.slots).toHaveLength(14);
  });

  it('a guardian books for their dependent (on behalf of, in the activity log); the operator books on behalf of a patient', async () => {
    const g = await h.call('POST', '/api/appointments', {
      token: c.guardian.token,
      headers: { 'x-on-behalf-of': c.dependent.id },
      body: booking(c, c.dependent.id, '2027-03-30T10:00:00+02:00', { reason: 'rash' }),
    });
    expect(g.status).toBe(201);
    const gv = await h.call('GET', `/api/appointments/${g.body.id}`, {
      token: c.guardian.token,
      headers: { 'x-on-behalf-of': c.dependent.id },
    });
    expect(gv.body.events[0]).toMatchObject({
      actorId: c.guardian.id,
      actorRole: 'guardian',
      onBehalfOf: c.dependent.id,
      reason: 'rash',
    });
    // Without saying they act for the dependent, the guardian is refused.
    expect((await h.call('GET', `/api/appointments/${g.body.id}`, { token: c.guardian.token })).status).toBe(
      403,
    );
    const o = await h.call('POST', '/api/appointments', {
      token: c.operator.token,
      body: booking(c, c.patient.id, '2027-03-30T11:00:00+02:00'),
    });
    const ov = await h.call('GET', `/api/appointments/${o.body.id}`, { token: c.operator.token });
    expect(ov.body.events[0]).toMatchObject({
      actorId: c.operator.id,
      actorRole: 'operator',
      onBehalfOf: c.patient.id,
    });
    // The booking decision is in the audit log with who acted for whom.
    const audit = await h.identity.audit.query({
      patientId: c.dependent.id,
      action: 'appointment.book',
      limit: 5,
    });
    expect(audit[0]).toMatchObject({
      outcome: 'allowed',
      actorId: c.guardian.id,
      onBehalfOf: c.dependent.id,
      resourceId: g.body.id,
    });
  });

  it('walks requested -> confirmed -> checked_in -> in_call -> completed with approval on; refuses invalid transitions with 409', async () => {
    expect(
      (
        await h.call('PATCH', `/api/scheduling/clinics/${c.clinicId}/settings`, {
          token: c.admin.token,
          body: { requiresApproval: true },
        })
      ).status,
    ).toBe(200);
    const b = await h.call('POST', '/api/appointments', {
      token: c.patient.token,
      body: booking(c, c.patient.id, '2027-03-31T09:00:00+02:00'),
    });
    expect(b.body.status).toBe('requested');
    const go = (token: string, to: string) =>
      h.call('POST', `/api/appointments/${b.body.id}/transitions`, { token, body: { to } });
    // The patient cannot approve their own booking; checking in before approval is invalid.
    expect((await go(c.patient.token, 'confirmed')).status).toBe(403);
    const early = await go(c.patient.token, 'checked_in');
    expect([early.status, early.body.code]).toEqual([409, 'invalid_transition']);
    expect((await go(c.operator.token, 'confirmed')).body.status).toBe('confirmed');
    expect((await go(c.patient.token, 'checked_in')).body.status).toBe('checked_in');
    expect((await go(c.operator.token, 'in_call')).status).toBe(403);
    expect((await go(c.doctor.token, 'in_call')).body.status).toBe('in_call');
    const cancelInCall = await h.call('POST', `/api/appointments/${b.body.id}/cancel`, {
      token: c.patient.token,
      body: { reason: 'changed my mind' },
    });
    expect([cancelInCall.status, cancelInCall.body.code]).toEqual([409, 'invalid_transition']);
    expect((await go(c.doctor.token, 'completed')).body.status).toBe('completed');
    expect((await go(c.doctor.token, 'no_show')).status).toBe(409);
    const v = await h.call('GET', `/api/appointments/${b.body.id}`, { token: c.doctor.token });
    expect(v.body.events.map((e: any) => `${e.fromStatus}->${e.toStatus}:${e.actorRole}`)).toEqual([
      'null->requested:patient',
      'requested->confirmed:operator',
      'confirmed->checked_in:patient',
      'checked_in->in_call:doctor',
      'in_call->completed:doctor',
    ]);
    await h.call('PATCH', `/api/scheduling/clinics/${c.clinicId}/settings`, {
      token: c.admin.token,
      body: { requiresApproval: false },
    });
  });

  it('reschedules (reminders re-planned) and cancels with a reason; a cancelled slot is free again; no_show by the doctor', async () => {
    const b = await h.call('POST', '/api/appointments', {
      token: c.patient.token,
      body: booking(c, c.patient.id, '2027-04-01T14:00:00+02:00'),
    });
    const moved = await h.call('POST', `/api/appointments/${b.body.id}/reschedule`, {
      token: c.patient.token,
      body: { startsAt: '2027-04-01T15:00:00+02:00', reason: 'school run' },
    });
    expect(moved.status).toBe(200);
    expect(moved.body.startsAt).toBe('2027-04-01T13:00:00.000Z');
    const jobs = await h.db.select().from(reminderJobs).where(eq(reminderJobs.appointmentId, b.body.id));
    expect(
      jobs
        .filter((j) => j.status === 'pending')
        .map((j) => j.dueAt.toISOString())
        .sort(),
    ).toEqual(['2027-03-31T13:00:00.000Z', '2027-04-01T12:00:00.000Z']);
    expect(jobs.filter((j) => j.status === 'skipped')).toHaveLength(2);
    // Moving onto a taken slot is refused by the database constraint.
    const other = await h.call('POST', '/api/appointments', {
      token: c.operator.token,
      body: booking(c, c.patient.id, '2027-04-01T16:00:00+02:00'),
    });
    const clash = await h.call('POST', `/api/appointments/${b.body.id}/reschedule`, {
      token: c.patient.token,
      body: { startsAt: '2027-04-01T16:00:00+02:00', reason: 'later please' },
    });
    expect([clash.status, clash.body.code]).toEqual([409, 'slot_taken']);
    const noReason = await h.call('POST', `/api/appointments/${other.body.id}/cancel`, {
      token: c.patient.token,
      body: {},
    });
    expect(noReason.status).toBe(400);
    expect(noReason.body.errors).toEqual([{ field: 'reason', message: expect.any(String) }]);
    const cancelled = await h.call('POST', `/api/appointments/${other.body.id}/cancel`, {
      token: c.patient.token,
      body: { reason: 'feeling better' },
    });
    expect(cancelled.body.status).toBe('cancelled');
    const pending = await h.db
      .select()
      .from(reminderJobs)
      .where(eq(reminderJobs.appointmentId, other.body.id));
    expect(pending.every((j) => j.status === 'skipped')).toBe(true);
    expect(
      (
        await h.call('POST', `/api/appointments/${b.body.id}/reschedule`, {
          token: c.patient.token,
          body: { startsAt: '2027-04-01T16:00:00+02:00', reason: 'later please' },
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await h.call('POST', `/api/appointments/${b.body.id}/transitions`, {
          token: c.doctor.token,
          body: { to: 'no_show', reason: 'did not join' },
        })
      ).body.status,
    ).toBe('no_show');
    // A no-show frees the slot too.
    expect(
      (
        await h.call('POST', '/api/appointments', {
          token: c.patient.token,
          body: booking(c, c.patient.id, '2027-04-01T16:00:00+02:00'),
        })
      ).status,
    ).toBe(201);
  });

  it('licensure: refused with 422 no_valid_licence outside the licence jurisdiction or after it expires; a national licence covers its regions', async () => {
    const us = await h.call('POST', '/api/appointments', {
      token: c.patient.token,
      body: booking(c, c.patient.id, '2027-04-02T09:00:00+02:00', { patientJurisdiction: 'US-NY' }),
    });
    expect([us.status, us.body.code, us.body.errors[0].field]).toEqual([
      422,
      'no_valid_licence',
      'patientJurisdiction',
    ]);
    await h.call('POST', `/api/doctors/${c.doctor.id}/licences`, {
      token: c.admin.token,
      body: {
        jurisdiction: 'AT',
        number: 'AT-9',
        validFrom: '2020-01-01T00:00:00Z',
        expiresAt: '2027-04-05T00:00:00Z',
      },
    });
    const before = await h.call('POST', '/api/appointments', {
      token: c.patient.token,
      body: booking(c, c.patient.id, '2027-04-02T09:00:00+02:00', { patientJurisdiction: 'AT' }),
    });
    expect(before.status).toBe(201);
    const after = await h.call('POST', '/api/appointments', {
      token: c.patient.token,
      body: booking(c, c.patient.id, '2027-04-05T09:00:00+02:00', { patientJurisdiction: 'AT' }),
    });
    expect(after.body.code).toBe('no_valid_licence');
    expect(
      (
        await h.call('POST', '/api/appointments', {
          token: c.patient.token,
          body: booking(c, c.patient.id, '2027-04-05T09:00:00+02:00', { patientJurisdiction: 'DE-BY' }),
        })
      ).status,
    ).toBe(201);
    const rows = await h.db.select().from(appointments).where(eq(appointments.patientJurisdiction, 'US-NY'));
    expect(rows).toHaveLength(0);
  });

  it('refuses times outside availability, in the past, and across exceptions', async () => {
    const sat = await h.call('POST', '/api/appointments', {
      token: c.patient.token,
      body: booking(c, c.patient.id, '2027-04-03T10:00:00+02:00'),
    });
    expect([sat.status, sat.body.code]).toEqual([422, 'outside_availability']);
    const late = await h.call('POST', '/api/appointments', {
      token: c.patient.token,
      body: booking(c, c.patient.id, '2027-04-02T16:45:00+02:00'),
    });
    expect(late.body.code).toBe('outside_availability');
    const past = await h.call('POST', '/api/appointments', {
      token: c.patient.token,
      body: booking(c, c.patient.id, '2020-03-02T10:00:00+01:00'),
    });
    expect([past.status, past.body.code]).toEqual([422, 'in_the_past']);
    const off = await h.call('POST', `/api/doctors/${c.doctor.id}/exceptions`, {
      token: c.doctor.token,
      body: { date: '2027-04-06', kind: 'unavailable' },
    });
    expect(off.status).toBe(201);
    expect(
      (
        await h.call('POST', '/api/appointments', {
          token: c.patient.token,
          body: booking(c, c.patient.id, '2027-04-06T10:00:00+02:00'),
        })
      ).body.code,
    ).toBe('outside_availability');
    const extra = await h.call('POST', `/api/doctors/${c.doctor.id}/exceptions`, {
      token: c.operator.token,
      body: { date: '2027-04-10', kind: 'available', start: '10:00', end: '12:00' },
    });
    expect(extra.status).toBe(201);
    expect(
      (
        await h.call('POST', '/api/appointments', {
          token: c.patient.token,
          body: booking(c, c.patient.id, '2027-04-10T10:00:00+02:00'),
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await h.call('DELETE', `/api/doctors/${c.doctor.id}/exceptions/${off.body.id}`, {
          token: c.doctor.token,
        })
      ).status,
    ).toBe(204);
    expect(
      (
        await h.call('POST', '/api/appointments', {
          token: c.patient.token,
          body: booking(c, c.patient.id, '2027-04-06T10:00:00+02:00'),
        })
      ).status,
    ).toBe(201);
  });

  it('reminder offsets are configurable per clinic (clinic admin only) and apply to new bookings', async () => {
    const bad = await h.call('PATCH', `/api/scheduling/clinics/${c.clinicId}/settings`, {
      token: c.admin.token,
      body: { reminderOffsetsMinutes: [1, 60] },
    });
    expect(bad.body.errors).toEqual([{ field: 'reminderOffsetsMinutes.0', message: 'at least 5 minutes' }]);
    expect(
      (
        await h.call('PATCH', `/api/scheduling/clinics/${c.clinicId}/settings`, {
          token: c.operator.token,
          body: { reminderOffsetsMinutes: [120] },
        })
      ).status,
    ).toBe(403);
    const ok = await h.call('PATCH', `/api/scheduling/clinics/${c.clinicId}/settings`, {
      token: c.admin.token,
      body: { reminderOffsetsMinutes: [15, 120, 15] },
    });
    expect(ok.body).toEqual({ requiresApproval: false, reminderOffsetsMinutes: [120, 15] });
    const b = await h.call('POST', '/api/appointments', {
      token: c.patient.token,
      body: booking(c, c.patient.id, '2027-04-07T12:00:00+02:00'),
    });
    const jobs = await h.db.select().from(reminderJobs).where(eq(reminderJobs.appointmentId, b.body.id));
    expect(jobs.map((j) => j.dueAt.toISOString()).sort()).toEqual([
      '2027-04-07T08:00:00.000Z',
      '2027-04-07T09:45:00.000Z',
    ]);
    await h.call('PATCH', `/api/scheduling/clinics/${c.clinicId}/settings`, {
      token: c.admin.token,
      body: { reminderOffsetsMinutes: [1440, 60] },
    });
  });

  it('bad input: problem+json 400 with a field error per problem', async () => {
    const r = await h.call('POST', '/api/appointments', {
      token: c.patient.token,
      body: {
        clinicId: 'nope',
        doctorId: c.doctor.id,
        patientId: c.patient.id,
        consultTypeId: c.consultTypeId,
        startsAt: '2027-04-02 09:00',
        patientJurisdiction: 'germany',
        questionnaire: [{ questionId: '', answer: {} }],
      },
    });
    expect(r.status).toBe(400);
    expect(r.contentType).toContain('application/problem+json');
    expect(r.body.errors.map((e: any) => e.field).sort()).toEqual([
      'clinicId',
      'patientJurisdiction',
      'questionnaire.0.answer',
      'questionnaire.0.questionId',
      'startsAt',
    ]);
    const notJson = await h.call('POST', '/api/appointments', { token: c.patient.token, body: '{nope' });
    expect([notJson.status, notJson.body.errors[0].field]).toEqual([400, '(body)']);
    const sched = await h.call('PUT', `/api/doctors/${c.doctor.id}/schedule`, {
      token: c.doctor.token,
      body: { timeZone: 'Europe/Atlantis', rules: [{ weekday: 8, start: '9:00', end: '25:00' }] },
    });
    expect(sched.body.errors.map((e: any) => e.field).sort()).toEqual([
      'rules.0.end',
      'rules.0.start',
      'rules.0.weekday',
      'timeZone',
    ]);
    const backwards = await h.call('PUT', `/api/doctors/${c.doctor.id}/schedule`, {
      token: c.doctor.token,
      body: { timeZone: 'UTC', rules: [{ weekday: 1, start: '12:00', end: '09:00' }] },
    });
    expect(backwards.body.errors).toEqual([{ field: 'rules.0.end', message: 'start must be before end' }]);
    const slots = await h.call(
      'GET',
      `/api/doctors/${c.doctor.id}/slots?from=2027-04-10&to=2027-04-11&consultTypeId=x`,
      { token: c.patient.token },
    );
    expect(slots.body.errors.map((e: any) => e.field)).toEqual(['consultTypeId']);
    const reversed = await h.call(
      'GET',
      `/api/doctors/${c.doctor.id}/slots?from=2027-04-10&to=2027-01-01&consultTypeId=${c.consultTypeId}`,
      { token: c.patient.token },
    );
    expect(reversed.body.errors).toEqual([{ field: 'to', message: 'must not be before from' }]);
    const price = await h.call('POST', `/api/scheduling/clinics/${c.clinicId}/consult-types`, {
      token: c.admin.token,
      body: { name: 'X', kind: 'phone', durationMinutes: 2, priceMinor: 12.5, currency: 'eur' },
    });
    expect(price.body.errors.map((e: any) => e.field).sort()).toEqual([
      'currency',
      'durationMinutes',
      'kind',
      'priceMinor',
    ]);
    const lic = await h.call('POST', `/api/doctors/${c.doctor.id}/licences`, {
      token: c.admin.token,
      body: {
        jurisdiction: 'DE',
        number: 'x',
        validFrom: '2030-01-01T00:00:00Z',
        expiresAt: '2029-01-01T00:00:00Z',
      },
    });
    expect(lic.body.errors).toEqual([{ field: 'expiresAt', message: 'must be after validFrom' }]);
    const wrongType = await h.call('POST', '/api/appointments', {
      token: c.patient.token,
      body: booking(c, c.patient.id, '2027-04-02T11:00:00+02:00', { consultTypeId: c.clinicId }),
    });
    expect([wrongType.status, wrongType.body.errors[0].field]).toEqual([422, 'consultTypeId']);
    const wrongTransition = await h.call('POST', `/api/appointments/${c.clinicId}/transitions`, {
      token: c.patient.token,
      body: { to: 'teleported' },
    });
    expect(wrongTransition.body.errors[0].field).toBe('to');
  });
});
