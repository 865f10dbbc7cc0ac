import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLog, webhookOutbox } from '../../db/schema/index.ts';
import {
  createUser,
  signIn,
  startIdentityHarness,
  type IdentityHarness,
} from '../../test/helpers/identity.ts';
import { schedulingClinic, type Person, type SchedulingClinic } from '../../test/helpers/scheduling.ts';

const at = (t0: Date, seconds: number) => new Date(t0.getTime() + seconds * 1000);
const iso = (t0: Date, seconds: number) => at(t0, seconds).toISOString();

describe('dispatch: a doctor declines, the next one gets the offer at once', () => {
  let h: IdentityHarness;
  let c: SchedulingClinic;
  let b: SchedulingClinic;
  let d1: Person;
  let d2: Person;
  let d3: Person;
  let d4: Person;
  beforeAll(async () => {
    h = await startIdentityHarness();
    c = await schedulingClinic(h, { name: 'Clinic A' });
    b = await schedulingClinic(h, { name: 'Clinic B' });
    const more = async () => {
      const u = await createUser(h.identity, h.db, { role: 'doctor', clinicId: c.clinicId });
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
        token: (await signIn(h.call, h.db, u.email)).accessToken,
        actor: { userId: u.id, role: 'doctor' as const, sessionId: 's', clinicIds: [c.clinicId] },
      };
    };
    d1 = c.doctor;
    d2 = await more();
    d3 = await more();
    d4 = await more();
  });
  afterAll(() => h.close());

  const dispatch = async (
    t0: Date,
    doctors: Person[],
    intervalSeconds = 60,
    consultTypeId = c.consultTypeId,
  ) => {
    h.clock.now = t0;
    const r = await h.call('POST', '/api/dispatch', {
      token: c.operator.token,
      body: {
        clinicId: c.clinicId,
        patientId: c.patient.id,
        consultTypeId,
        patientJurisdiction: 'DE',
        doctorIds: doctors.map((d) => d.id),
        intervalSeconds,
      },
    });
    expect(r.status).toBe(201);
    return r.body.id as string;
  };
  const decline = (id: string, who: Person, body?: unknown) =>
    h.call('POST', `/api/dispatch/${id}/decline`, {
      token: who.token,
      ...(body === undefined ? {} : { body }),
    });
  const accept = (id: string, who: Person) =>
    h.call('POST', `/api/dispatch/${id}/accept`, { token: who.token });
  const view = async (id: string) =>
    (await h.call('GET', `/api/dispatch/${id}`, { token: c.operator.token })).body;

  it('the next doctor is offered it now, later ones move up by the same amount; the decliner cannot accept afterwards', async () => {
    const t0 = new Date('2027-06-01T10:00:00Z');
    const id = await dispatch(t0, [d1, d2, d3]);
    expect((await h.scheduling.dispatch.tick()).notified).toBe(1);
    h.clock.now = at(t0, 10);
    const r = await decline(id, d1, { reason: 'in theatre' });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ requestId: id, doctorId: d1.id, status: 'declined', respondedAt: iso(t0, 10) });
    const v = await view(id);
    expect(v.status).toBe('open');
    expect(v.offers.map((o: any) => [o.doctorId, o.status, o.offeredAt])).toEqual([
      [d1.id, 'declined', iso(t0, 0)],
      [d2.id, 'pending', iso(t0, 10)],
      [d3.id, 'pending', iso(t0, 70)],
    ]);
    expect(v.expiresAt).toBe(iso(t0, 130));
    // Doctor 2 sees it and is told on the next worker pass; doctor 1 no longer sees it.
    expect(
      (await h.call('GET', '/api/dispatch/offers', { token: d2.token })).body.offers.map(
        (o: any) => o.requestId,
      ),
    ).toEqual([id]);
    expect((await h.call('GET', '/api/dispatch/offers', { token: d1.token })).body.offers).toEqual([]);
    expect((await h.scheduling.dispatch.tick()).notified).toBe(1);
    // The decline is audited with its reason (the audit log, not the operational logs).
    const audited = await h.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.action, 'dispatch.respond'), eq(auditLog.resourceId, id)));
    expect(audited.map((a) => [a.actorId, a.outcome, a.reason])).toEqual([
      [d1.id, 'allowed', 'declined: in theatre'],
    ]);
    expect(h.logs.lines.join('\n')).not.toContain('in theatre');

    const again = await accept(id, d1);
    expect([again.status, again.body.code]).toEqual([409, 'offer_declined']);
    const won = await accept(id, d2);
    expect(won.status).toBe(200);
    expect(won.body.offers.map((o: any) => o.status)).toEqual(['declined', 'accepted', 'withdrawn']);
    // The appointment the acceptance created is announced with it, once, with ids only.
    const booked = (await h.db.select().from(webhookOutbox)).filter(
      (r) => r.event === 'appointment.booked' && r.payload.doctorId === d2.id,
    );
    expect(booked.map((r) => [r.clinicId, r.payload.status, Object.keys(r.payload).sort()])).toEqual([
      [c.clinicId, 'confirmed', ['appointmentId', 'doctorId', 'patientId', 'status']],
    ]);
    h.clock.now = undefined;
  });

  it('a decline while the next doctor already has it moves up the one still waiting; an empty body is fine', async () => {
    const t0 = new Date('2027-06-02T10:00:00Z');
    const id = await dispatch(t0, [d1, d2, d3]);
    h.clock.now = at(t0, 90); // d1 and d2 have it, d3 waits until +120
    expect((await decline(id, d1)).status).toBe(200);
    const v = await view(id);
    expect(v.offers.map((o: any) => o.offeredAt)).toEqual([iso(t0, 0), iso(t0, 60), iso(t0, 90)]);
    expect(v.expiresAt).toBe(iso(t0, 150));
    h.clock.now = undefined;
  });

  it("everyone declines: the request is 'exhausted' for the operator, and stays so", async () => {
    const t0 = new Date('2027-06-03T10:00:00Z');
    const id = await dispatch(t0, [d2, d3], 30);
    h.clock.now = at(t0, 5);
    expect((await decline(id, d2, { reason: 'off shift' })).status).toBe(200);
    expect((await view(id)).offers[1].offeredAt).toBe(iso(t0, 5));
    h.clock.now = at(t0, 6);
    expect((await decline(id, d3)).status).toBe(200);
    const v = await view(id);
    expect(v.status).toBe('exhausted');
    expect(v.offers.map((o: any) => o.status)).toEqual(['declined', 'declined']);
    h.clock.now = at(t0, 600);
    await h.scheduling.dispatch.tick(); // the worker's expiry leaves it alone
    expect((await view(id)).status).toBe('exhausted');
    expect((await accept(id, d3)).body.code).toBe('offer_declined');
    expect((await decline(id, d3)).body.code).toBe('offer_already_declined');
    h.clock.now = undefined;
  });

  it('all doctors declining at once: each decline counts once, the request ends exhausted', async () => {
    const t0 = new Date('2027-06-04T10:00:00Z');
    const id = await dispatch(t0, [d1, d2, d3, d4], 10);
    h.clock.now = at(t0, 35); // all four have it
    const results = await Promise.all([d1, d2, d3, d4].map((d) => decline(id, d)));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect((await view(id)).status).toBe('exhausted');
    h.clock.now = undefined;
  });

  it('the same doctor accepting and declining at once: exactly one of them happens', async () => {
    for (const [i, day] of ['2027-06-07', '2027-06-08', '2027-06-09'].entries()) {
      const t0 = new Date(`${day}T1${i}:00:00Z`);
      const id = await dispatch(t0, [d4, d3]);
      const [a, d] = await Promise.all([accept(id, d4), decline(id, d4)]);
      expect([a.status, d.status].sort()).toEqual([200, 409]);
      const v = await view(id);
      if (a.status === 200)
        expect([v.status, v.offers[0].status, d.body.code]).toEqual([
          'accepted',
          'accepted',
          'dispatch_closed',
        ]);
      else
        expect([v.status, v.offers[0].status, a.body.code]).toEqual(['open', 'declined', 'offer_declined']);
    }
    h.clock.now = undefined;
  });

  it('refusals: not your turn yet, already taken, expired; unknown request; bad input', async () => {
    const t0 = new Date('2027-06-10T10:00:00Z');
    const id = await dispatch(t0, [d1, d2], 60);
    const early = await decline(id, d2);
    expect([early.status, early.body.code]).toEqual([409, 'offer_not_open_yet']);
    expect(early.contentType).toContain('application/problem+json');
    expect((await accept(id, d1)).status).toBe(200);
    h.clock.now = at(t0, 70);
    expect((await decline(id, d2)).body.code).toBe('dispatch_closed'); // withdrawn when d1 accepted
    expect((await decline(id, d1)).body.code).toBe('dispatch_closed'); // their own accepted offer

    const t1 = new Date('2027-06-11T10:00:00Z');
    const id2 = await dispatch(t1, [d2], 30);
    h.clock.now = at(t1, 31); // past expiry, before the worker noticed
    expect((await decline(id2, d2)).body.code).toBe('dispatch_closed');
    await h.scheduling.dispatch.tick();
    expect((await decline(id2, d2)).body.code).toBe('dispatch_closed'); // expired by the worker

    const missing = await decline(crypto.randomUUID(), d1);
    expect([missing.status, missing.body.code]).toEqual([404, 'not_found']);
    const badId = await decline('nope', d1);
    expect([badId.status, badId.body.errors[0].field]).toEqual([400, 'requestId']);
    h.clock.now = at(t1, 0);
    const id3 = await dispatch(at(t1, 0), [d3], 60);
    for (const body of [{ reason: '' }, { reason: 'x'.repeat(501) }, { reason: 42 }]) {
      const r = await decline(id3, d3, body);
      expect([r.status, r.body.errors[0].field]).toEqual([400, 'reason']);
    }
    const notJson = await h.call('POST', `/api/dispatch/${id3}/decline`, { token: d3.token, body: '{nope' });
    expect([notJson.status, notJson.body.errors[0].field]).toEqual([400, '(body)']);
    expect((await view(id3)).offers[0].status).toBe('pending');
    h.clock.now = undefined;
  });

  it('authorization: only a doctor on the list, of that clinic, for their own offer', async () => {
    const t0 = new Date('2027-06-14T10:00:00Z');
    const id = await dispatch(t0, [d1, d2], 60);
    h.clock.now = at(t0, 90);
    // Doctor 3 of the same clinic is not on the list; other roles of the clinic; the patient it is for.
    for (const who of [d3, c.operator, c.admin, c.patient]) {
      const r = await decline(id, who);
      expect([r.status, r.body.code]).toEqual([403, 'forbidden']);
    }
    // Clinic B's people learn nothing: the answer an unknown request gets.
    for (const who of [b.doctor, b.operator, b.admin]) {
      const r = await decline(id, who);
      expect([r.status, r.body.code]).toEqual([404, 'not_found']);
    }
    // A guardian acting for someone else cannot answer for a doctor either (and is not told the request exists).
    expect(
      (
        await h.call('POST', `/api/dispatch/${id}/decline`, {
          token: c.guardian.token,
          headers: { 'x-on-behalf-of': c.dependent.id },
        })
      ).status,
    ).toBe(404);
    expect((await h.call('POST', `/api/dispatch/${id}/decline`, {})).status).toBe(401);
    // Nothing changed.
    const v = await view(id);
    expect(v.offers.map((o: any) => o.status)).toEqual(['pending', 'pending']);
    h.clock.now = undefined;
  });

  it('a consult type retired after the dispatch started does not stop the accept', async () => {
    const type = await h.call('POST', `/api/scheduling/clinics/${c.clinicId}/consult-types`, {
      token: c.admin.token,
      body: { name: 'Urgent', kind: 'video', durationMinutes: 15, priceMinor: 9000, currency: 'EUR' },
    });
    const t0 = new Date('2027-06-15T10:00:00Z');
    const id = await dispatch(t0, [d2], 60, type.body.id);
    expect(
      (
        await h.call('PATCH', `/api/scheduling/clinics/${c.clinicId}/consult-types/${type.body.id}`, {
          token: c.admin.token,
          body: { active: false },
        })
      ).status,
    ).toBe(200);
    const r = await accept(id, d2);
    expect([r.status, r.body.status]).toEqual([200, 'accepted']);
    h.clock.now = undefined;
  });
});
