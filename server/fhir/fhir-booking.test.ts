import type { Bundle, Slot } from '@medplum/fhirtypes';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appointments } from '../../db/schema/index.ts';
import { createUser, signIn } from '../../test/helpers/identity.ts';
import { assertValidR4 } from './test-support/r4-validator.ts';
import {
  appointmentFor,
  at,
  ENGINES,
  fhirClient,
  fhirWorld,
  listen,
  matches,
  startHarness,
  type FhirWorld,
  type Harness,
} from './test-support/fhir-harness.ts';

const CONCURRENT = 8;

describe.each(ENGINES)('FHIR booking: one slot, many concurrent POST /Appointment, on %s', (engine) => {
  let h: Harness;
  let w: FhirWorld;
  let server: Awaited<ReturnType<typeof listen>>;
  let patients: { id: string; token: string }[];

  beforeAll(async () => {
    h = await startHarness(engine);
    w = await fhirWorld(h);
    patients = [w.north.patient, w.otherPatient];
    for (let i = patients.length; i < CONCURRENT; i++) {
      const u = await createUser(h.identity, h.db, { role: 'patient', clinicId: w.north.clinicId });
      patients.push({
        id: u.id,
        token: (await signIn(h.call, h.db, u.email)).accessToken,
      });
    }
    server = await listen(h);
  });
  afterAll(async () => {
    await server?.stop();
    await h?.close();
  });

  const freeSlot = async (token: string, start: string) => {
    const bundle = (await fhirClient(server.base, token).search({
      resourceType: 'Slot',
      searchParams: { schedule: `Schedule/${w.north.doctor.id}`, start: `ge${start}`, _count: 1 } as never,
    })) as unknown as Bundle;
    return matches(bundle)[0] as Slot;
  };

  /** Every patient books the same slot for themself at once; each answer is 201 or 409. */
  const race = async (slot: Slot) =>
    Promise.all(
      patients.map(async (p) => {
        try {
          const created = await fhirClient(server.base, p.token).create({
            resourceType: 'Appointment',
            body: appointmentFor(slot.id!, p.id) as never,
          });
          assertValidR4(created as never);
          return { status: 201, body: created as Record<string, any> };
        } catch (err) {
          const res = (err as { response?: { status: number; data: Record<string, any> } }).response;
          if (!res) throw err;
          assertValidR4(res.data as never);
          return { status: res.status, body: res.data };
        }
      }),
    );

  it(`${CONCURRENT} patients book one slot at once: one 201, the rest 409 OperationOutcome (slot_taken)`, async () => {
    const slot = await freeSlot(w.north.patient.token, at('13:00'));
    const answers = await race(slot);
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([201, ...Array(CONCURRENT - 1).fill(409)]);
    for (const refused of answers.filter((a) => a.status === 409))
      expect(refused.body.issue[0]).toMatchObject({
        code: 'conflict',
        details: { coding: [{ code: 'slot_taken' }] },
      });
    const booked = answers.find((a) => a.status === 201)!.body;
    const rows = await h.db
      .select()
      .from(appointments)
      .where(eq(appointments.startsAt, new Date(slot.start!)));
    expect(rows.map((r) => r.id)).toEqual([booked.id]);
    // The slot is no longer offered.
    expect((await freeSlot(w.north.patient.token, at('13:00'))).start).not.toBe(slot.start);
  });

  it('booking for someone else is the booking policy’s refusal; a guardian books for the dependent', async () => {
    const slot = await freeSlot(w.north.patient.token, at('14:00'));
    const other = fhirClient(server.base, w.otherPatient.token);
    await expect(
      other.create({
        resourceType: 'Appointment',
        body: appointmentFor(slot.id!, w.north.patient.id) as never,
      }),
    ).rejects.toMatchObject({ response: { status: 404 } });
    const guardian = fhirClient(server.base, w.north.guardian.token, {
      'x-on-behalf-of': w.north.dependent.id,
    });
    const created = await guardian.create({
      resourceType: 'Appointment',
      body: appointmentFor(slot.id!, w.north.dependent.id) as never,
    });
    expect(created).toMatchObject({
      participant: [{ actor: { reference: `Patient/${w.north.dependent.id}` } }, {}],
    });
  });

  it('operators book through the JSON API, not through FHIR: the slot is unknown to them', async () => {
    const slot = await freeSlot(w.north.patient.token, at('15:00'));
    await expect(
      fhirClient(server.base, w.north.operator.token).create({
        resourceType: 'Appointment',
        body: appointmentFor(slot.id!, w.north.patient.id) as never,
      }),
    ).rejects.toMatchObject({ response: { status: 404 } });
  });
});
