import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIdentityHarness, type IdentityHarness } from '../../test/helpers/identity.ts';
import { booking, schedulingClinic, type SchedulingClinic } from '../../test/helpers/scheduling.ts';

// Future weekdays inside the helper clinic's Mon-Fri 09:00-17:00 Berlin schedule.
const TUE_1000 = '2027-06-08T10:00:00+02:00';
const WED_0945 = '2027-06-09T09:45:00+02:00';
const THU_1000 = '2027-06-10T10:00:00+02:00';

describe('consult types: edit, deactivate, reactivate', () => {
  let h: IdentityHarness;
  let a: SchedulingClinic;
  let b: SchedulingClinic;
  beforeAll(async () => {
    h = await startIdentityHarness();
    a = await schedulingClinic(h, { name: 'Clinic A' });
    b = await schedulingClinic(h, { name: 'Clinic B' });
  });
  afterAll(() => h.close());

  const typesPath = (c: SchedulingClinic) => `/api/scheduling/clinics/${c.clinicId}/consult-types`;
  const newType = async (c: SchedulingClinic, name: string) => {
    const r = await h.call('POST', typesPath(c), {
      token: c.admin.token,
      body: { name, kind: 'video', durationMinutes: 30, priceMinor: 4500, currency: 'EUR' },
    });
    expect(r.status).toBe(201);
    return r.body.id as string;
  };
  const patch = (c: SchedulingClinic, id: string, token: string, body: unknown) =>
    h.call('PATCH', `${typesPath(c)}/${id}`, { token, body });

  it('the clinic admin edits name, duration, price and currency; booked appointments keep what they copied', async () => {
    const typeId = await newType(a, 'Follow-up');
    const before = await h.call('POST', '/api/appointments', {
      token: a.patient.token,
      body: booking(a, a.patient.id, TUE_1000, { consultTypeId: typeId }),
    });
    expect(before.status).toBe(201);
    const r = await patch(a, typeId, a.admin.token, {
      name: '  Long follow-up ',
      durationMinutes: 45,
      priceMinor: 6000,
      currency: 'CHF',
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      id: typeId,
      clinicId: a.clinicId,
      name: 'Long follow-up',
      kind: 'video',
      durationMinutes: 45,
      priceMinor: 6000,
      currency: 'CHF',
      active: true,
    });
    // Only the fields sent change.
    const priceOnly = await patch(a, typeId, a.admin.token, { priceMinor: 6500 });
    expect(priceOnly.body).toMatchObject({
      name: 'Long follow-up',
      durationMinutes: 45,
      priceMinor: 6500,
      currency: 'CHF',
    });
    const kept = await h.call('GET', `/api/appointments/${before.body.id}`, { token: a.patient.token });
    expect(kept.body).toMatchObject({
      priceMinor: 4500,
      currency: 'EUR',
      startsAt: '2027-06-08T08:00:00.000Z',
      endsAt: '2027-06-08T08:30:00.000Z',
    });
    // New bookings take the new length, on its slot grid (09:00, 09:45, 10:30 ...).
    const after = await h.call('POST', '/api/appointments', {
      token: a.patient.token,
      body: booking(a, a.patient.id, WED_0945, { consultTypeId: typeId }),
    });
    expect(after.body).toMatchObject({
      priceMinor: 6500,
      currency: 'CHF',
      startsAt: '2027-06-09T07:45:00.000Z',
      endsAt: '2027-06-09T08:30:00.000Z',
    });
  });

  it('a deactivated type is not listed or bookable for patients; the admin still sees it, existing bookings can move, reactivation restores it', async () => {
    const typeId = await newType(a, 'Retiring');
    const booked = await h.call('POST', '/api/appointments', {
      token: a.patient.token,
      body: booking(a, a.patient.id, '2027-06-08T11:00:00+02:00', { consultTypeId: typeId }),
    });
    expect(booked.status).toBe(201);
    const off = await patch(a, typeId, a.admin.token, { active: false });
    expect([off.status, off.body.active]).toEqual([200, false]);

    const listed = async (token: string, query = '') =>
      (await h.call('GET', `${typesPath(a)}${query}`, { token })).body.consultTypes.map((t: any) => t.id);
    expect(await listed(a.patient.token)).not.toContain(typeId);
    expect(await listed(a.admin.token)).not.toContain(typeId);
    expect(await listed(a.admin.token, '?includeInactive=true')).toContain(typeId);
    // Seeing retired types is a management view: patients and operators are refused.
    expect(
      (await h.call('GET', `${typesPath(a)}?includeInactive=true`, { token: a.patient.token })).status,
    ).toBe(403);
    expect(
      (await h.call('GET', `${typesPath(a)}?includeInactive=true`, { token: a.operator.token })).status,
    ).toBe(403);

    const book = await h.call('POST', '/api/appointments', {
      token: a.patient.token,
      body: booking(a, a.patient.id, THU_1000, { consultTypeId: typeId }),
    });
    expect([book.status, book.body.errors[0].field]).toEqual([422, 'consultTypeId']);
    const slots = await h.call(
      'GET',
      `/api/doctors/${a.doctor.id}/slots?from=2027-06-10&to=2027-06-10&consultTypeId=${typeId}`,
      { token: a.patient.token },
    );
    expect([slots.status, slots.body.code]).toEqual([422, 'invalid_consult_type']);
    // An appointment booked before keeps its type, price and length when moved.
    const moved = await h.call('POST', `/api/appointments/${booked.body.id}/reschedule`, {
      token: a.patient.token,
      body: { startsAt: '2027-06-11T11:00:00+02:00', reason: 'clash at work' },
    });
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({
      consultTypeId: typeId,
      priceMinor: 4500,
      endsAt: '2027-06-11T09:30:00.000Z',
    });

    const on = await patch(a, typeId, a.admin.token, { active: true });
    expect(on.body.active).toBe(true);
    expect(await listed(a.patient.token)).toContain(typeId);
    expect(
      (
        await h.call('POST', '/api/appointments', {
          token: a.patient.token,
          body: booking(a, a.patient.id, THU_1000, { consultTypeId: typeId }),
        })
      ).status,
    ).toBe(201);
  });

  it('bad input: 400 problem+json with a field error per problem, validated like creation', async () => {
    const typeId = await newType(a, 'Validation');
    const r = await patch(a, typeId, a.admin.token, {
      name: ' ',
      durationMinutes: 2,
      priceMinor: 12.5,
      currency: 'eur',
      active: 'no',
      kind: 'chat',
    });
    expect(r.status).toBe(400);
    expect(r.contentType).toContain('application/problem+json');
    expect(r.body.errors.map((e: any) => e.field).sort()).toEqual([
      'active',
      'currency',
      'durationMinutes',
      'kind',
      'name',
      'priceMinor',
    ]);
    expect(r.body.errors.find((e: any) => e.field === 'kind').message).toContain('cannot be changed');
    expect(
      (await patch(a, typeId, a.admin.token, { durationMinutes: 481, priceMinor: -1 })).body.errors,
    ).toEqual([
      { field: 'durationMinutes', message: 'at most 480 minutes' },
      { field: 'priceMinor', message: expect.any(String) },
    ]);
    expect((await patch(a, typeId, a.admin.token, {})).body.errors).toEqual([
      { field: '(body)', message: 'nothing to change' },
    ]);
    const badId = await h.call('PATCH', `${typesPath(a)}/not-a-uuid`, {
      token: a.admin.token,
      body: { priceMinor: 1 },
    });
    expect([badId.status, badId.body.errors[0].field]).toEqual([400, 'consultTypeId']);
    const badQuery = await h.call('GET', `${typesPath(a)}?includeInactive=maybe`, { token: a.admin.token });
    expect([badQuery.status, badQuery.body.errors[0].field]).toEqual([400, 'includeInactive']);
    // Nothing changed along the way.
    const [row] = (await h.call('GET', typesPath(a), { token: a.admin.token })).body.consultTypes.filter(
      (t: any) => t.id === typeId,
    );
    expect(row).toMatchObject({ durationMinutes: 30, priceMinor: 4500, currency: 'EUR', active: true });
  });

  it('room capacity: 8 by default, the clinic admin sets 2-200, anything else is a field error, nobody else may', async () => {
    const typeId = await newType(a, 'Group session');
    const listed = async () =>
      (await h.call('GET', typesPath(a), { token: a.admin.token })).body.consultTypes.find(
        (t: any) => t.id === typeId,
      );
    expect((await listed()).roomCapacity, 'a new type admits a consultation').toBe(8);
    const big = await patch(a, typeId, a.admin.token, { roomCapacity: 200 });
    expect([big.status, big.body.roomCapacity]).toEqual([200, 200]);
    const talk = await h.call('POST', typesPath(a), {
      token: a.admin.token,
      body: {
        name: 'Talk',
        kind: 'video',
        durationMinutes: 60,
        priceMinor: 0,
        currency: 'EUR',
        roomCapacity: 150,
      },
    });
    expect([talk.status, talk.body.roomCapacity]).toEqual([201, 150]);
    for (const [value, message] of [
      [201, 'at most 200 participants'],
      [1, 'at least 2 participants'],
      [12.5, 'a whole number of participants'],
      ['many', expect.any(String)],
      [null, expect.any(String)],
    ] as const) {
      const r = await patch(a, typeId, a.admin.token, { roomCapacity: value });
      expect([r.status, r.contentType], `roomCapacity ${value}`).toEqual([
        400,
        expect.stringContaining('problem+json'),
      ]);
      expect(r.body.errors, `roomCapacity ${value}`).toEqual([{ field: 'roomCapacity', message }]);
    }
    const badCreate = await h.call('POST', typesPath(a), {
      token: a.admin.token,
      body: {
        name: 'Too big',
        kind: 'video',
        durationMinutes: 60,
        priceMinor: 0,
        currency: 'EUR',
        roomCapacity: 1000,
      },
    });
    expect([badCreate.status, badCreate.body.errors]).toEqual([
      400,
      [{ field: 'roomCapacity', message: 'at most 200 participants' }],
    ]);
    for (const who of [a.operator, a.doctor, a.patient, a.guardian]) {
      const r = await patch(a, typeId, who.token, { roomCapacity: 8 });
      expect([r.status, r.body.code], 'only the clinic admin').toEqual([403, 'forbidden']);
    }
    expect((await patch(a, typeId, b.admin.token, { roomCapacity: 8 })).status, 'another clinic').toBe(404);
    expect((await listed()).roomCapacity, 'refused changes left it as it was').toBe(200);
  });

  it('only the clinic admin of that clinic; a type of another clinic is 404', async () => {
    const typeId = await newType(a, 'Guarded');
    for (const who of [a.operator, a.doctor, a.patient, a.guardian]) {
      const r = await patch(a, typeId, who.token, { priceMinor: 1, active: false });
      expect([r.status, r.body.code]).toEqual([403, 'forbidden']);
    }
    // Clinic B's admin, through clinic A's path: the policy refuses, as for a clinic that does not exist.
    expect((await patch(a, typeId, b.admin.token, { priceMinor: 1 })).status).toBe(404);
    // Through their own clinic's path, with clinic A's type id: no such type there.
    const cross = await patch(b, typeId, b.admin.token, { active: false });
    expect([cross.status, cross.body.code]).toEqual([404, 'not_found']);
    expect((await patch(a, crypto.randomUUID(), a.admin.token, { priceMinor: 1 })).status).toBe(404);
    const [row] = (await h.call('GET', typesPath(a), { token: a.admin.token })).body.consultTypes.filter(
      (t: any) => t.id === typeId,
    );
    expect(row).toMatchObject({ priceMinor: 4500, active: true });
  });
});
