import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appointments, dispatchOffers, licenceNotices, notificationOutbox } from '../../db/schema/index.ts';
import {
  createUser,
  signIn,
  startIdentityHarness,
  type IdentityHarness,
} from '../../test/helpers/identity.ts';
import { schedulingClinic, type Person, type SchedulingClinic } from '../../test/helpers/scheduling.ts';

const DAY = 86_400_000;

describe('licence expiry notices and urgent dispatch', () => {
  let h: IdentityHarness;
  let c: SchedulingClinic;
  let doctor2: Person;
  let doctor3: Person;
  beforeAll(async () => {
    h = await startIdentityHarness();
    c = await schedulingClinic(h);
    const more = async () => {
      const u = await createUser(h.identity, h.db, { role: 'doctor', clinicId: c.clinicId });
      const token = (await signIn(h.call, h.db, u.email)).accessToken;
      await h.call('POST', `/api/doctors/${u.id}/licences`, {
        token: c.admin.token,
        body: {
          jurisdiction: 'DE',
          number: 'D',
          validFrom: '2020-01-01T00:00:00Z',
          expiresAt: '2035-01-01T00:00:00Z',
        },
      });
      return {
        id: u.id,
        email: u.email,
        token,
        actor: { userId: u.id, role: 'doctor' as const, sessionId: 's', clinicIds: [c.clinicId] },
      };
    };
    doctor2 = await more();
    doctor3 = await more();
  });
  afterAll(() => h.close());

  const notices = async (recipient: string) =>
    (await h.db.select().from(notificationOutbox).where(eq(notificationOutbox.recipient, recipient))).filter(
      (m) => m.template === 'licence_expiry',
    );

  it('sends the 180/90/30-day notices to the doctor and the clinic admin, once per licence per threshold', async () => {
    const t0 = new Date('2031-01-01T00:00:00Z');
    h.clock.now = t0;
    const lic = await h.call('POST', `/api/doctors/${c.doctor.id}/licences`, {
      token: c.admin.token,
      body: {
        jurisdiction: 'US-NY',
        number: 'NY-77',
        validFrom: '2030-01-01T00:00:00Z',
        expiresAt: new Date(t0.getTime() + 200 * DAY).toISOString(),
      },
    });
    expect(lic.status).toBe(201);
    const run = () => h.scheduling.licenceNotices.runOnce();
    expect(await run()).toEqual({ sent: 0 }); // 200 days left: nothing yet
    h.clock.now = new Date(t0.getTime() + 21 * DAY); // 179 days left
    expect(await run()).toEqual({ sent: 2 });
    expect(await run()).toEqual({ sent: 0 }); // idempotent
    h.clock.now = new Date(t0.getTime() + 111 * DAY); // 89 days left
    await run();
    await run();
    h.clock.now = new Date(t0.getTime() + 171 * DAY); // 29 days left
    await Promise.all([run(), run()]); // two nodes at once: still one notice each
    const doctorNotices = await notices(c.doctor.email);
    const adminNotices = await notices(c.admin.email);
    expect(doctorNotices).toHaveLength(3);
    expect(adminNotices).toHaveLength(3);
    expect(doctorNotices.map((m) => m.idempotencyKey.split(':')[2]).sort()).toEqual(['180', '30', '90']);
    expect(doctorNotices[0]!.body).toContain('NY-77');
    h.clock.now = undefined;
  });

  it('a licence first seen with 20 days left gets only the 30-day notice; passed thresholds are recorded, not sent late', async () => {
    const t0 = new Date('2032-01-01T00:00:00Z');
    h.clock.now = t0;
    const lic = await h.call('POST', `/api/doctors/${doctor2.id}/licences`, {
      token: c.admin.token,
      body: {
        jurisdiction: 'AT',
        number: 'AT-20',
        validFrom: '2030-01-01T00:00:00Z',
        expiresAt: new Date(t0.getTime() + 20 * DAY).toISOString(),
      },
    });
    await h.scheduling.licenceNotices.runOnce();
    const mine = (await notices(doctor2.email)).filter((m) => m.body.includes('AT-20'));
    expect(mine.map((m) => m.idempotencyKey.split(':')[2])).toEqual(['30']);
    const rows = await h.db.select().from(licenceNotices).where(eq(licenceNotices.licenceId, lic.body.id));
    expect(rows.map((r) => r.thresholdDays).sort()).toEqual([180, 30, 90]);
    expect(rows.every((r) => r.sentAt)).toBe(true);
    h.clock.now = undefined;
  });

  it('dispatch: offered in turn at the interval; the first to accept wins, the rest are withdrawn atomically', async () => {
    const t0 = new Date('2027-05-03T10:00:00Z');
    h.clock.now = t0;
    const created = await h.call('POST', '/api/dispatch', {
      token: c.operator.token,
      body: {
        clinicId: c.clinicId,
        patientId: c.patient.id,
        consultTypeId: c.consultTypeId,
        patientJurisdiction: 'DE',
        doctorIds: [c.doctor.id, doctor2.id, doctor3.id],
        intervalSeconds: 60,
      },
    });
    expect(created.status).toBe(201);
    expect(created.body.offers.map((o: any) => o.offeredAt)).toEqual([
      '2027-05-03T10:00:00.000Z',
      '2027-05-03T10:01:00.000Z',
      '2027-05-03T10:02:00.000Z',
    ]);
    expect(created.body.patientId).toBeUndefined();
    const id = created.body.id;
    // Worker pass: only the first doctor is told so far.
    expect((await h.scheduling.dispatch.tick()).notified).toBe(1);
    expect((await h.call('GET', '/api/dispatch/offers', { token: c.doctor.token })).body.offers).toHaveLength(
      1,
    );
    expect((await h.call('GET', '/api/dispatch/offers', { token: doctor3.token })).body.offers).toHaveLength(
      0,
    );
    // Doctor 3's turn has not come: refused.
    expect((await h.call('POST', `/api/dispatch/${id}/accept`, { token: doctor3.token })).status).toBe(403);
    h.clock.now = new Date(t0.getTime() + 150_000); // all three have it now
    expect((await h.scheduling.dispatch.tick()).notified).toBe(2);
    // Everyone accepts at once: exactly one wins.
    const results = await Promise.all(
      [c.doctor, doctor2, doctor3].map((d) =>
        h.call('POST', `/api/dispatch/${id}/accept`, { token: d.token }),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 409, 409]);
    const winner = results.find((r) => r.status === 200)!.body;
    expect(winner.status).toBe('accepted');
    expect(winner.offers.filter((o: any) => o.status === 'accepted')).toHaveLength(1);
    expect(winner.offers.filter((o: any) => o.status === 'withdrawn')).toHaveLength(2);
    expect(results.filter((r) => r.status === 409).every((r) => r.body.code === 'dispatch_closed')).toBe(
      true,
    );
    const [appt] = await h.db.select().from(appointments).where(eq(appointments.id, winner.appointmentId));
    expect(appt).toMatchObject({
      doctorId: winner.acceptedBy,
      patientId: c.patient.id,
      status: 'confirmed',
      startsAt: h.clock.now,
    });
    const op = await h.call('GET', `/api/dispatch/${id}`, { token: c.operator.token });
    expect(op.body.status).toBe('accepted');
    h.clock.now = undefined;
  });

  it('dispatch expires when nobody accepts within the last interval', async () => {
    const t0 = new Date('2027-05-04T10:00:00Z');
    h.clock.now = t0;
    const created = await h.call('POST', '/api/dispatch', {
      token: c.operator.token,
      body: {
        clinicId: c.clinicId,
        patientId: c.patient.id,
        consultTypeId: c.consultTypeId,
        patientJurisdiction: 'DE',
        doctorIds: [doctor2.id, doctor3.id],
        intervalSeconds: 30,
      },
    });
    h.clock.now = new Date(t0.getTime() + 60_000);
    // Accept after expiry, even before the worker noticed: refused.
    expect(
      (await h.call('POST', `/api/dispatch/${created.body.id}/accept`, { token: doctor2.token })).body.code,
    ).toBe('dispatch_closed');
    expect((await h.scheduling.dispatch.tick()).expired).toBe(1);
    const offers = await h.db
      .select()
      .from(dispatchOffers)
      .where(eq(dispatchOffers.requestId, created.body.id));
    expect(offers.map((o) => o.status)).toEqual(['expired', 'expired']);
    h.clock.now = undefined;
  });

  it('dispatch input and authorization: bad fields, unlicensed doctor, non-operators refused', async () => {
    const bad = await h.call('POST', '/api/dispatch', {
      token: c.operator.token,
      body: {
        clinicId: c.clinicId,
        patientId: c.patient.id,
        consultTypeId: c.consultTypeId,
        patientJurisdiction: 'de',
        doctorIds: [],
        intervalSeconds: 1,
      },
    });
    expect(bad.body.errors.map((e: any) => e.field).sort()).toEqual([
      'doctorIds',
      'intervalSeconds',
      'patientJurisdiction',
    ]);
    const unlicensed = await h.call('POST', '/api/dispatch', {
      token: c.operator.token,
      body: {
        clinicId: c.clinicId,
        patientId: c.patient.id,
        consultTypeId: c.consultTypeId,
        patientJurisdiction: 'FR',
        doctorIds: [doctor2.id],
        intervalSeconds: 30,
      },
    });
    expect([unlicensed.status, unlicensed.body.errors[0].field]).toEqual([422, 'doctorIds.0']);
    for (const who of [c.patient, c.doctor, c.admin]) {
      const r = await h.call('POST', '/api/dispatch', {
        token: who.token,
        body: {
          clinicId: c.clinicId,
          patientId: c.patient.id,
          consultTypeId: c.consultTypeId,
          patientJurisdiction: 'DE',
          doctorIds: [doctor2.id],
          intervalSeconds: 30,
        },
      });
      expect(r.status).toBe(403);
    }
  });
});
