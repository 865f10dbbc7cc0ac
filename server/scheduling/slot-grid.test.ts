import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIdentityHarness, type IdentityHarness } from '../../test/helpers/identity.ts';
import { booking, schedulingClinic, type SchedulingClinic } from '../../test/helpers/scheduling.ts';

/**
 * Appointments start where GET /slots says a slot starts: the window's start plus whole consult
 * lengths, in elapsed time. Anything between is 422 off_slot_grid, for booking and rescheduling.
 */
describe('bookings start on the slot grid', () => {
  let h: IdentityHarness;
  let c: SchedulingClinic;
  let night: SchedulingClinic;
  beforeAll(async () => {
    h = await startIdentityHarness();
    // Mondays 09:10-12:00 in Berlin (a grid that does not start on the hour), 30-minute consults.
    c = await schedulingClinic(h, { rules: [{ weekday: 1, start: '09:10', end: '12:00' }] });
    // Sundays 01:00-05:00 in Berlin: on 28 March 2027 the clocks jump from 02:00 to 03:00.
    night = await schedulingClinic(h, {
      name: 'Night clinic',
      rules: [{ weekday: 7, start: '01:00', end: '05:00' }],
    });
  });
  afterAll(() => h.close());

  const book = (k: SchedulingClinic, startsAt: string, patient = k.patient) =>
    h.call('POST', '/api/appointments', { token: patient.token, body: booking(k, patient.id, startsAt) });
  const slotsOn = async (k: SchedulingClinic, date: string) =>
    (
      await h.call(
        'GET',
        `/api/doctors/${k.doctor.id}/slots?from=${date}&to=${date}&consultTypeId=${k.consultTypeId}`,
        { token: k.patient.token },
      )
    ).body.slots.map((s: { local: string }) => s.local);
  const expectOffGrid = (r: Awaited<ReturnType<typeof book>>) => {
    expect([r.status, r.body.code, r.body.errors]).toEqual([
      422,
      'off_slot_grid',
      [{ field: 'startsAt', message: 'not a slot start time (see GET /api/doctors/:id/slots)' }],
    ]);
    expect(r.contentType).toContain('application/problem+json');
  };

  it('a slot start plus 7 min 13 s, or plus 1 ms, is refused with 422 off_slot_grid; the slot itself books', async () => {
    expectOffGrid(await book(c, '2027-05-03T09:47:13+02:00'));
    expectOffGrid(await book(c, '2027-05-03T09:40:00.001+02:00'));
    // On the hour is not on this doctor's grid either: it starts at 09:10.
    expectOffGrid(await book(c, '2027-05-03T10:00:00+02:00'));
    const ok = await book(c, '2027-05-03T09:40:00+02:00');
    expect([ok.status, ok.body.startsAt]).toEqual([201, '2027-05-03T07:40:00.000Z']);
    // Outside the hours is still its own error.
    expect((await book(c, '2027-05-03T12:10:00+02:00')).body.code).toBe('outside_availability');
  });

  it('every slot GET /slots lists books, around an exception that splits the day; times between do not', async () => {
    const date = '2027-05-10';
    const ex = await h.call('POST', `/api/doctors/${c.doctor.id}/exceptions`, {
      token: c.doctor.token,
      body: { date, kind: 'unavailable', start: '10:10', end: '10:25' },
    });
    expect(ex.status).toBe(201);
    const listed = await slotsOn(c, date);
    // The grid starts again where the exception ends.
    expect(listed).toEqual([
      '2027-05-10T09:10:00+02:00',
      '2027-05-10T09:40:00+02:00',
      '2027-05-10T10:25:00+02:00',
      '2027-05-10T10:55:00+02:00',
      '2027-05-10T11:25:00+02:00',
    ]);
    expectOffGrid(await book(c, '2027-05-10T10:40:00+02:00'));
    expectOffGrid(await book(c, '2027-05-10T09:25:00+02:00'));
    expect((await book(c, '2027-05-10T10:10:00+02:00')).body.code).toBe('outside_availability');
    for (const local of listed) expect((await book(c, local)).status, local).toBe(201);
  });

  it('across the spring-forward gap the grid runs in elapsed time, as the slots do', async () => {
    const listed = await slotsOn(night, '2027-03-28');
    expect(listed).toEqual([
      '2027-03-28T01:00:00+01:00',
      '2027-03-28T01:30:00+01:00',
      '2027-03-28T03:00:00+02:00',
      '2027-03-28T03:30:00+02:00',
      '2027-03-28T04:00:00+02:00',
      '2027-03-28T04:30:00+02:00',
    ]);
    expectOffGrid(await book(night, '2027-03-28T03:15:00+02:00'));
    expect((await book(night, '2027-03-28T03:00:00+02:00')).status).toBe(201);
  });

  it('rescheduling is held to the same grid', async () => {
    const a = await book(c, '2027-05-17T09:10:00+02:00');
    expect(a.status).toBe(201);
    const move = (startsAt: string) =>
      h.call('POST', `/api/appointments/${a.body.id}/reschedule`, {
        token: c.patient.token,
        body: { startsAt, reason: 'later please' },
      });
    expectOffGrid(await move('2027-05-17T10:17:13+02:00'));
    const moved = await move('2027-05-17T10:10:00+02:00');
    expect([moved.status, moved.body.startsAt]).toEqual([200, '2027-05-17T08:10:00.000Z']);
  });
});
