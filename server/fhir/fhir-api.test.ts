import type {
  Appointment,
  AuditEvent,
  Bundle,
  CapabilityStatement,
  Communication,
  Resource,
  Slot,
} from '@medplum/fhirtypes';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLog } from '../../db/schema/index.ts';
import { relate } from '../../test/helpers/identity.ts';
import { assertValidR4 } from './test-support/r4-validator.ts';
import {
  appointmentFor,
  at,
  chatInRoom,
  DAY,
  ENGINES,
  fhirClient,
  fhirWorld,
  ids,
  included,
  listen,
  matches,
  startHarness,
  type FhirWorld,
  type Harness,
} from './test-support/fhir-harness.ts';

// Every resource and Bundle the API answers with goes through assertValidR4 (StructureDefinitions + required codes).
const valid = <T extends Resource>(r: unknown): T => {
  assertValidR4(r as Resource);
  return r as T;
};

describe.each(ENGINES)(
  'FHIR R4 API driven by fhir-kit-client (the real app on a socket, on %s)',
  (engine) => {
    let h: Harness;
    let w: FhirWorld;
    let server: Awaited<ReturnType<typeof listen>>;
    let appointments: string[];
    const as = (token: string, headers?: Record<string, string>) => fhirClient(server.base, token, headers);

    beforeAll(async () => {
      h = await startHarness(engine);
      w = await fhirWorld(h);
      appointments = [
        await w.book(w.north.patient.id, at('09:00')),
        await w.book(w.north.patient.id, at('10:00')),
        await w.book(w.north.patient.id, at('11:00')),
      ];
      server = await listen(h);
    });
    afterAll(async () => {
      await server?.stop();
      await h?.close();
    });

    it('metadata: a public CapabilityStatement listing exactly the implemented types, interactions and parameters', async () => {
      const res = await fetch(`${server.base}/metadata`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('application/fhir+json');
      const cs = valid<CapabilityStatement>(await res.json());
      const resources = cs.rest![0]!.resource!;
      expect(resources.map((r) => r.type).sort()).toEqual(
        [
          'Appointment',
          'AuditEvent',
          'Communication',
          'Organization',
          'Patient',
          'Practitioner',
          'Schedule',
          'Slot',
        ].sort(),
      );
      const appointment = resources.find((r) => r.type === 'Appointment')!;
      expect(appointment.interaction!.map((i) => i.code)).toEqual(['read', 'search-type', 'create']);
      expect(appointment.searchParam!.map((p) => p.name)).toEqual([
        '_id',
        'patient',
        'subject',
        'practitioner',
        'date',
        'status',
      ]);
      expect(appointment.searchInclude).toEqual(['Appointment:patient', 'Appointment:practitioner']);
      expect(resources.find((r) => r.type === 'Patient')!.interaction!.map((i) => i.code)).toEqual([
        'read',
        'search-type',
      ]);
      // fhir-kit-client reads it the same way.
      expect(valid<CapabilityStatement>(await as('').capabilityStatement()).fhirVersion).toBe('4.0.1');
    });

    it('a patient reads and searches themself; the read is audited as fhir.patient.read', async () => {
      const me = as(w.north.patient.token);
      const patient = valid(await me.read({ resourceType: 'Patient', id: w.north.patient.id }));
      expect(patient).toMatchObject({ resourceType: 'Patient', id: w.north.patient.id, active: true });
      const bundle = valid<Bundle>(await me.search({ resourceType: 'Patient' }));
      expect(bundle).toMatchObject({ type: 'searchset', total: 1 });
      expect(ids(matches(bundle))).toEqual([`Patient/${w.north.patient.id}`]);
      const entries = await h.db
        .select()
        .from(auditLog)
        .where(and(eq(auditLog.action, 'fhir.patient.read'), eq(auditLog.patientId, w.north.patient.id)));
      expect(
        entries.filter((e) => e.outcome === 'allowed' && e.actorId === w.north.patient.id).length,
      ).toBeGreaterThanOrEqual(2);
    });

    it('a guardian reads the dependent acting for them (X-On-Behalf-Of)', async () => {
      const guardian = as(w.north.guardian.token, { 'x-on-behalf-of': w.north.dependent.id });
      valid(await guardian.read({ resourceType: 'Patient', id: w.north.dependent.id }));
      const bundle = valid<Bundle>(await guardian.search({ resourceType: 'Patient' }));
      expect(ids(matches(bundle))).toEqual([`Patient/${w.north.dependent.id}`]);
    });

    it('the treating doctor searches their patients, paged with an opaque cursor (next link)', async () => {
      const doctor = as(w.north.doctor.token);
      const first = valid<Bundle>(
        await doctor.search({ resourceType: 'Patient', searchParams: { _count: 1 } }),
      );
      expect(matches(first)).toHaveLength(1);
      expect(first.total).toBeUndefined();
      expect(first.link!.find((l) => l.relation === 'next')!.url).toMatch(/_cursor=/);
      const second = valid<Bundle>(await doctor.nextPage({ bundle: first as never })!);
      expect(ids([...matches(first), ...matches(second)])).toEqual(
        [`Patient/${w.north.patient.id}`, `Patient/${w.north.dependent.id}`].sort(),
      );
      expect(second.link!.some((l) => l.relation === 'next')).toBe(false);
      // _id filters before the page is cut: with three patients, the last in id order is found on a page of one.
      await relate(h.db, w.north.clinicId, w.north.doctor.id, w.otherPatient.id);
      const later = [w.north.patient.id, w.north.dependent.id, w.otherPatient.id].sort()[2]!;
      const byId = valid<Bundle>(
        await doctor.search({ resourceType: 'Patient', searchParams: { _id: later, _count: 1 } }),
      );
      expect(ids(matches(byId))).toEqual([`Patient/${later}`]);
    });

    it('directory: Organization, Practitioner and Schedule read and searched', async () => {
      const me = as(w.north.patient.token);
      valid(await me.read({ resourceType: 'Organization', id: w.north.clinicId }));
      expect(ids(matches(valid(await me.search({ resourceType: 'Organization' }))))).toEqual([
        `Organization/${w.north.clinicId}`,
      ]);
      valid(await me.read({ resourceType: 'Practitioner', id: w.north.doctor.id }));
      const doctors = valid<Bundle>(await me.search({ resourceType: 'Practitioner' }));
      expect(ids(matches(doctors))).toEqual(
        [`Practitioner/${w.north.doctor.id}`, `Practitioner/${w.colleague.id}`].sort(),
      );
      const schedule = valid(await me.read({ resourceType: 'Schedule', id: w.north.doctor.id }));
      expect(schedule).toMatchObject({ actor: [{ reference: `Practitioner/${w.north.doctor.id}` }] });
      const schedules = valid<Bundle>(
        await me.search({
          resourceType: 'Schedule',
          searchParams: { actor: `Practitioner/${w.north.doctor.id}` },
        }),
      );
      expect(matches(schedules)).toHaveLength(1);
    });

    it('free Slots of a Schedule on a day, paged; a Slot read by its id; booked times are not free', async () => {
      const me = as(w.north.patient.token);
      const search = {
        schedule: `Schedule/${w.north.doctor.id}`,
        start: [`ge${DAY}`, `lt2027-03-30`],
        _count: 5,
      };
      const first = valid<Bundle>(await me.search({ resourceType: 'Slot', searchParams: search as never }));
      const slots = matches(first) as Slot[];
      // 09:00-17:00 Berlin in 30-minute slots = 16, minus the three booked at 09:00, 10:00, 11:00.
      expect(slots.map((s) => s.start)).toEqual([
        '2027-03-29T07:30:00.000Z',
        '2027-03-29T08:30:00.000Z',
        '2027-03-29T09:30:00.000Z',
        '2027-03-29T10:00:00.000Z',
        '2027-03-29T10:30:00.000Z',
      ]);
      let all = slots;
      for (let page: Bundle | undefined = first; page?.link?.some((l) => l.relation === 'next');) {
        page = valid<Bundle>(await me.nextPage({ bundle: page as never })!);
        all = [...all, ...(matches(page) as Slot[])];
      }
      expect(all).toHaveLength(13);
      const one = valid<Slot>(await me.read({ resourceType: 'Slot', id: slots[0]!.id! }));
      expect(one).toEqual(slots[0]);
    });

    it('POST Appointment books a Slot through the booking service: 201, Location, valid Appointment; the slot is gone', async () => {
      const me = as(w.north.patient.token);
      const slots = matches(
        valid<Bundle>(
          await me.search({
            resourceType: 'Slot',
            searchParams: {
              schedule: `Schedule/${w.north.doctor.id}`,
              start: `ge${at('16:00')}`,
              _count: 1,
            } as never,
          }),
        ),
      ) as Slot[];
      const created = valid<Appointment>(
        await me.create({
          resourceType: 'Appointment',
          body: appointmentFor(slots[0]!.id!, w.north.patient.id) as never,
        }),
      );
      expect(created).toMatchObject({ status: 'booked', start: slots[0]!.start, end: slots[0]!.end });
      appointments.push(created.id!);
      const read = valid<Appointment>(await me.read({ resourceType: 'Appointment', id: created.id! }));
      expect(read.participant!.map((p) => p.actor!.reference)).toEqual([
        `Patient/${w.north.patient.id}`,
        `Practitioner/${w.north.doctor.id}`,
      ]);
      await expect(me.read({ resourceType: 'Slot', id: slots[0]!.id! })).rejects.toMatchObject({
        response: { status: 404 },
      });
      // The JSON API sees the same appointment.
      const json = await h.call('GET', `/api/appointments/${created.id}`, { token: w.north.patient.token });
      expect(json.body).toMatchObject({ id: created.id, status: 'confirmed', bookedBy: w.north.patient.id });
    });

    it('Appointment search: by patient and date, _include of patient and practitioner, paged, empty', async () => {
      const doctor = as(w.north.doctor.token);
      const bundle = valid<Bundle>(
        await doctor.search({
          resourceType: 'Appointment',
          searchParams: {
            patient: `Patient/${w.north.patient.id}`,
            date: [`ge${DAY}`, 'lt2027-03-30'],
            _include: ['Appointment:patient', 'Appointment:practitioner'],
          } as never,
        }),
      );
      expect(ids(matches(bundle))).toEqual(
        ids(appointments.map((id) => ({ resourceType: 'Appointment', id }) as Resource)),
      );
      expect(bundle.total).toBe(4);
      expect(ids(included(bundle))).toEqual([
        `Patient/${w.north.patient.id}`,
        `Practitioner/${w.north.doctor.id}`,
      ]);
      expect((matches(bundle) as Appointment[]).map((a) => a.start)).toEqual(
        [...(matches(bundle) as Appointment[]).map((a) => a.start!)].sort(),
      );

      const page1 = valid<Bundle>(
        await doctor.search({ resourceType: 'Appointment', searchParams: { _count: 3 } }),
      );
      const page2 = valid<Bundle>(await doctor.nextPage({ bundle: page1 as never })!);
      expect([...matches(page1), ...matches(page2)].map((r) => r.id)).toHaveLength(4);
      expect(page2.link!.some((l) => l.relation === 'next')).toBe(false);

      const none = valid<Bundle>(
        await doctor.search({ resourceType: 'Appointment', searchParams: { status: 'cancelled' } }),
      );
      expect(none).toMatchObject({ type: 'searchset', total: 0 });
      expect(none.entry).toBeUndefined();
      const statuses = valid<Bundle>(
        await as(w.north.patient.token).search({
          resourceType: 'Appointment',
          searchParams: { status: 'booked,pending' },
        }),
      );
      expect(matches(statuses)).toHaveLength(4);
    });

    it('Communication: the messages of a consultation, decrypted through chat, newest first; read by id; paged', async () => {
      const appointment = appointments[0]!;
      await chatInRoom(h, w.north.doctor, appointment, 'How are you feeling today?');
      await chatInRoom(h, w.north.patient, appointment, 'Better, thank you.');
      const me = as(w.north.patient.token);
      const bundle = valid<Bundle>(
        await me.search({
          resourceType: 'Communication',
          searchParams: { 'based-on': `Appointment/${appointment}` },
        }),
      );
      const messages = matches(bundle) as Communication[];
      expect(messages.map((m) => m.payload![0]!.contentString)).toEqual([
        'Better, thank you.',
        'How are you feeling today?',
      ]);
      expect(messages[1]).toMatchObject({
        status: 'completed',
        subject: { reference: `Patient/${w.north.patient.id}` },
        sender: { reference: `Practitioner/${w.north.doctor.id}` },
        basedOn: [{ reference: `Appointment/${appointment}` }],
      });
      expect(valid(await me.read({ resourceType: 'Communication', id: messages[0]!.id! }))).toEqual(
        messages[0],
      );
      const doctor = as(w.north.doctor.token);
      const page1 = valid<Bundle>(
        await doctor.search({
          resourceType: 'Communication',
          searchParams: { patient: `Patient/${w.north.patient.id}`, _count: 1 },
        }),
      );
      const page2 = valid<Bundle>(await doctor.nextPage({ bundle: page1 as never })!);
      expect([...matches(page1), ...matches(page2)].map((m) => m.id)).toEqual(messages.map((m) => m.id));
      const later = valid<Bundle>(
        await me.search({ resourceType: 'Communication', searchParams: { sent: 'gt2100-01-01' } }),
      );
      expect(later.total).toBe(0);
    });

    it('AuditEvent: the clinic admin reads the FHIR reads of a patient; a platform-wide event by id', async () => {
      const admin = as(w.north.admin.token);
      const bundle = valid<Bundle>(
        await admin.search({
          resourceType: 'AuditEvent',
          searchParams: { patient: `Patient/${w.north.patient.id}`, _count: 100 },
        }),
      );
      const events = matches(bundle);
      expect(events.length).toBeGreaterThan(5);
      const fhirRead = events.find((e) => JSON.stringify(e).includes('fhir.patient.read'))!;
      expect(fhirRead).toMatchObject({ action: 'R', outcome: '0' });
      expect((fhirRead as AuditEvent).entity![0]!.what).toEqual({
        reference: `Patient/${w.north.patient.id}`,
      });
      expect(valid(await admin.read({ resourceType: 'AuditEvent', id: fhirRead.id! }))).toEqual(fhirRead);
      const two = valid<Bundle>(
        await admin.search({
          resourceType: 'AuditEvent',
          searchParams: { _id: `${events[5]!.id},${events[3]!.id}`, _count: 1 },
        }),
      );
      expect(matches(two).map((e) => e.id)).toEqual([events[3]!.id]);
      const paged = valid<Bundle>(
        await admin.search({ resourceType: 'AuditEvent', searchParams: { _count: 2 } }),
      );
      valid(await admin.nextPage({ bundle: paged as never })!);
    });
  },
);
