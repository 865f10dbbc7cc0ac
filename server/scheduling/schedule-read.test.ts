import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createUser,
  signIn,
  startIdentityHarness,
  type IdentityHarness,
} from '../../test/helpers/identity.ts';
import { schedulingClinic, type SchedulingClinic } from '../../test/helpers/scheduling.ts';

describe("reading a doctor's availability back: weekly rules, time zone, exceptions", () => {
  let h: IdentityHarness;
  let a: SchedulingClinic;
  let b: SchedulingClinic;
  beforeAll(async () => {
    h = await startIdentityHarness();
    a = await schedulingClinic(h, { name: 'Clinic A' });
    b = await schedulingClinic(h, { name: 'Clinic B', timeZone: 'America/New_York', licence: 'US-NY' });
  });
  afterAll(() => h.close());

  const read = (doctorId: string, token: string, query = '?from=2027-07-01&to=2027-07-31') =>
    h.call('GET', `/api/doctors/${doctorId}/schedule${query}`, { token });

  it('returns what was saved, in the shape PUT takes, with the exceptions in the range only; round-trips unchanged', async () => {
    const rules = [
      { weekday: 3, start: '13:00', end: '24:00', validFrom: '2027-06-01', validUntil: '2027-12-31' },
      { weekday: 1, start: '08:30', end: '12:00' },
      { weekday: 1, start: '14:00', end: '18:15' },
    ];
    expect(
      (
        await h.call('PUT', `/api/doctors/${a.doctor.id}/schedule`, {
          token: a.doctor.token,
          body: { timeZone: 'Europe/Lisbon', rules },
        })
      ).status,
    ).toBe(200);
    const add = (body: unknown) =>
      h.call('POST', `/api/doctors/${a.doctor.id}/exceptions`, { token: a.operator.token, body });
    const dayOff = await add({ date: '2027-07-05', kind: 'unavailable' });
    const extra = await add({ date: '2027-07-10', kind: 'available', start: '10:00', end: '12:30' });
    await add({ date: '2027-08-02', kind: 'unavailable' }); // outside the range asked for
    await add({ date: '2027-06-30', kind: 'unavailable', start: '09:00', end: '10:00' }); // outside too

    const r = await read(a.doctor.id, a.doctor.token);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      timeZone: 'Europe/Lisbon',
      rules: [
        { weekday: 1, start: '08:30', end: '12:00' },
        { weekday: 1, start: '14:00', end: '18:15' },
        { weekday: 3, start: '13:00', end: '24:00', validFrom: '2027-06-01', validUntil: '2027-12-31' },
      ],
      exceptions: [
        { id: dayOff.body.id, date: '2027-07-05', kind: 'unavailable' },
        { id: extra.body.id, date: '2027-07-10', kind: 'available', start: '10:00', end: '12:30' },
      ],
    });
    // The range bounds are inclusive local dates.
    const edges = await read(a.doctor.id, a.doctor.token, '?from=2027-06-30&to=2027-08-02');
    expect(edges.body.exceptions.map((e: any) => e.date)).toEqual([
      '2027-06-30',
      '2027-07-05',
      '2027-07-10',
      '2027-08-02',
    ]);
    expect(edges.body.exceptions[0]).toMatchObject({ start: '09:00', end: '10:00' });
    // An editor saves what it read: nothing changes.
    const again = await h.call('PUT', `/api/doctors/${a.doctor.id}/schedule`, {
      token: a.doctor.token,
      body: { timeZone: r.body.timeZone, rules: r.body.rules },
    });
    expect(again.status).toBe(200);
    expect((await read(a.doctor.id, a.doctor.token)).body.rules).toEqual(r.body.rules);
  });

  it('a doctor without a published schedule reads as an empty one, not an error', async () => {
    const fresh = await createUser(h.identity, h.db, { role: 'doctor', clinicId: a.clinicId });
    const r = await read(fresh.id, a.operator.token);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ timeZone: null, rules: [], exceptions: [] });
  });

  it('bad input: 400 problem+json with field errors; the range is at most 366 days', async () => {
    const missing = await read(a.doctor.id, a.doctor.token, '');
    expect(missing.status).toBe(400);
    expect(missing.contentType).toContain('application/problem+json');
    expect(missing.body.errors.map((e: any) => e.field).sort()).toEqual(['from', 'to']);
    expect(
      (await read(a.doctor.id, a.doctor.token, '?from=2027-13-01&to=tomorrow')).body.errors
        .map((e: any) => e.field)
        .sort(),
    ).toEqual(['from', 'to']);
    expect((await read(a.doctor.id, a.doctor.token, '?from=2027-07-10&to=2027-07-01')).body.errors).toEqual([
      { field: 'to', message: 'must not be before from' },
    ]);
    expect((await read(a.doctor.id, a.doctor.token, '?from=2027-01-01&to=2028-01-03')).body.errors).toEqual([
      { field: 'to', message: 'at most 366 days at a time' },
    ]);
    expect((await read(a.doctor.id, a.doctor.token, '?from=2027-01-01&to=2028-01-02')).status).toBe(200);
    const badId = await h.call('GET', '/api/doctors/nope/schedule?from=2027-07-01&to=2027-07-02', {
      token: a.doctor.token,
    });
    expect([badId.status, badId.body.errors[0].field]).toEqual([400, 'doctorId']);
  });

  it("members of the doctor's clinic may read it (any role); other clinics and the platform admin get 404, as for no such doctor", async () => {
    for (const who of [a.doctor, a.admin, a.operator, a.patient, a.guardian])
      expect((await read(a.doctor.id, who.token)).status).toBe(200);
    const other = await createUser(h.identity, h.db, { role: 'doctor', clinicId: a.clinicId });
    expect((await read(a.doctor.id, (await signIn(h.call, h.db, other.email)).accessToken)).status).toBe(200);
    for (const who of [b.doctor, b.admin, b.operator, b.patient, b.guardian]) {
      const r = await read(a.doctor.id, who.token);
      expect([r.status, r.body.code]).toEqual([404, 'not_found']);
      expect(JSON.stringify(r.body)).not.toContain('Europe/');
    }
    const platform = await createUser(h.identity, h.db, { role: 'admin' });
    expect((await read(a.doctor.id, (await signIn(h.call, h.db, platform.email)).accessToken)).status).toBe(
      404,
    );
    // Reading is not managing: the patient may read but not save.
    expect(
      (
        await h.call('PUT', `/api/doctors/${a.doctor.id}/schedule`, {
          token: a.patient.token,
          body: { timeZone: 'UTC', rules: [] },
        })
      ).status,
    ).toBe(403);
    // Not a doctor, or nobody at all: 404; no token: 401.
    expect((await read(a.patient.id, a.operator.token)).status).toBe(404);
    expect((await read(crypto.randomUUID(), a.operator.token)).status).toBe(404);
    expect(
      (await h.call('GET', `/api/doctors/${a.doctor.id}/schedule?from=2027-07-01&to=2027-07-02`)).status,
    ).toBe(401);
  });
});
