import { and, eq } from 'drizzle-orm';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLog } from '../../db/schema/index.ts';
import type { Person } from '../../test/helpers/scheduling.ts';
import { assertValidR4 } from './test-support/r4-validator.ts';
import {
  at,
  chatInRoom,
  fhirWorld,
  startHarness,
  type FhirWorld,
  type Harness,
} from './test-support/fhir-harness.ts';

/** Who may see nothing of the North patient's record through FHIR, and why. */
const OUTSIDERS = [
  'another patient',
  "another clinic's doctor",
  'an operator',
  'a partner',
  'a colleague without care',
];

describe('FHIR authorization matrix: nobody outside the record sees any of it (real PostgreSQL)', () => {
  let h: Harness;
  let w: FhirWorld;
  let appointmentId: string;
  let communicationId: string;
  let outsiders: Record<string, Person>;
  const get = async (who: Person, path: string, headers: Record<string, string> = {}) => {
    const r = await h.call('GET', `/fhir/R4/${path}`, { token: who.token, headers });
    assertValidR4(r.body);
    expect(r.contentType).toContain('application/fhir+json');
    return r;
  };
  /** A 404's content without what differs per request (its id, the request id). */
  const outcome = (body: any) => body.issue;

  beforeAll(async () => {
    h = await startHarness();
    w = await fhirWorld(h);
    appointmentId = await w.book(w.north.patient.id, at('09:00'));
    const sent = await chatInRoom(h, w.north.doctor, appointmentId, 'Please rest.');
    communicationId = `${sent.conversationId}.${sent.seq}`;
    outsiders = {
      [OUTSIDERS[0]!]: w.otherPatient,
      [OUTSIDERS[1]!]: w.south.doctor,
      [OUTSIDERS[2]!]: w.north.operator,
      [OUTSIDERS[3]!]: w.partner,
      [OUTSIDERS[4]!]: w.colleague,
    };
  });
  afterAll(() => h?.close());

  it.each(OUTSIDERS)('%s: every read of the record is the 404 an unknown id gets', async (name) => {
    const who = outsiders[name]!;
    for (const [type, id] of [
      ['Patient', w.north.patient.id],
      ['Appointment', appointmentId],
      ['Communication', communicationId],
    ] as const) {
      const hidden = await get(who, `${type}/${id}`);
      const unknown = await get(
        who,
        `${type}/${type === 'Communication' ? `${randomUUID()}.1` : randomUUID()}`,
      );
      expect([hidden.status, unknown.status]).toEqual([404, 404]);
      expect(outcome(hidden.body)).toEqual(outcome(unknown.body));
      expect(JSON.stringify(hidden.body)).not.toContain(w.north.patient.id);
    }
  });

  it.each(OUTSIDERS)('%s: every search of the record answers an empty searchset', async (name) => {
    const who = outsiders[name]!;
    const patient = `Patient/${w.north.patient.id}`;
    for (const path of [
      `Patient?_id=${w.north.patient.id}`,
      `Appointment?patient=${patient}`,
      `Appointment?_id=${appointmentId}`,
      `Communication?patient=${patient}`,
      `Communication?based-on=Appointment/${appointmentId}`,
      `AuditEvent?patient=${patient}`,
    ]) {
      const r = await get(who, path);
      expect(r.status, path).toBe(200);
      expect(r.body, path).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: 0 });
    }
  });

  it('operators and partners see not even the directory; other clinics see not theirs', async () => {
    for (const who of [w.north.operator, w.partner, w.south.patient, w.south.doctor]) {
      expect((await get(who, `Organization/${w.north.clinicId}`)).status).toBe(404);
      expect((await get(who, `Practitioner/${w.north.doctor.id}`)).status).toBe(404);
      expect((await get(who, `Schedule/${w.north.doctor.id}`)).status).toBe(404);
      const slots = await get(
        who,
        `Slot?schedule=Schedule/${w.north.doctor.id}&start=ge2027-03-29&start=lt2027-03-30`,
      );
      expect(slots.body.total).toBe(0);
      const doctors = await get(who, 'Practitioner');
      expect(JSON.stringify(doctors.body)).not.toContain(w.north.doctor.id);
    }
  });

  it('a guardian without X-On-Behalf-Of sees nothing of the dependent; with it, only the dependent', async () => {
    expect((await get(w.north.guardian, `Patient/${w.north.dependent.id}`)).status).toBe(404);
    const acting = { 'x-on-behalf-of': w.north.dependent.id };
    expect((await get(w.north.guardian, `Patient/${w.north.dependent.id}`, acting)).status).toBe(200);
    expect((await get(w.north.guardian, `Patient/${w.north.patient.id}`, acting)).status).toBe(404);
    expect((await get(w.north.guardian, `Appointment/${appointmentId}`, acting)).status).toBe(404);
  });

  it('the AuditEvent log is for admins only: the patient and the doctor get an empty searchset', async () => {
    for (const who of [w.north.patient, w.north.doctor])
      expect((await get(who, 'AuditEvent')).body.total).toBe(0);
    expect((await get(w.north.admin, 'AuditEvent?_count=1')).body.entry).toHaveLength(1);
    // A clinic admin reads their own clinic's log, not another's.
    const south = await get(w.south.admin, `AuditEvent?patient=Patient/${w.north.patient.id}`);
    expect(south.body.total).toBe(0);
  });

  it('denied reads are in the audit log as denied; the matrix is not vacuous: the record’s parties get it', async () => {
    const denied = await h.db
      .select()
      .from(auditLog)
      .where(
        and(
          eq(auditLog.action, 'fhir.patient.read'),
          eq(auditLog.outcome, 'denied'),
          eq(auditLog.patientId, w.north.patient.id),
        ),
      );
    // The outsiders, and the guardian who asked for the North patient while acting for the dependent.
    expect(new Set(denied.map((d) => d.actorId))).toEqual(
      new Set([...Object.values(outsiders).map((o) => o.id), w.north.guardian.id]),
    );
    for (const who of [w.north.patient, w.north.doctor]) {
      expect((await get(who, `Patient/${w.north.patient.id}`)).status).toBe(200);
      expect((await get(who, `Appointment/${appointmentId}`)).status).toBe(200);
      expect((await get(who, `Communication/${communicationId}`)).status).toBe(200);
      expect((await get(who, `Appointment?patient=Patient/${w.north.patient.id}`)).body.total).toBe(1);
    }
  });
});
