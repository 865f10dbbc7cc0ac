import type { Appointment, Resource } from '@medplum/fhirtypes';
import { and, asc, eq, gte, inArray, lt, or, sql, type SQL } from 'drizzle-orm';
import type { Tx } from '../../../db/client.ts';
import {
  appointments,
  breakGlassGrants,
  careRelationships,
  consultTypes,
  type AppointmentStatus,
} from '../../../db/schema/index.ts';
import { ProblemError } from '../../api/errors.ts';
import { PROBLEM } from '../../api/problem-codes.ts';
import type { AuditEntry } from '../../audit/audit-log.ts';
import { loadPatientFactsMany } from '../../policy/patient-facts.ts';
import type { Actor } from '../../policy/types.ts';
import { appointmentResource } from '../../scheduling/appointment-facts.ts';
import { fhirNotFound } from '../operation-outcome.ts';
import { ref, type ResourceProvider, type SearchPage } from '../provider.ts';
import type { RecordAccess } from '../record-access.ts';
import { decodeCursor, emptyRange, type ParsedSearch } from '../search-params.ts';
import type { AppointmentBooking } from './appointment-booking.ts';
import type { PatientProvider } from './patients.ts';
import type { PractitionerProvider } from './practitioners.ts';
import { consultTypeConcept } from './schedules.ts';

type Row = typeof appointments.$inferSelect & { typeName: string };

/** Our states in R4's AppointmentStatus; in_call has no R4 state of its own ("arrived": being seen). */
export const FHIR_STATUS: Record<AppointmentStatus, Appointment['status']> = {
  requested: 'pending',
  confirmed: 'booked',
  checked_in: 'checked-in',
  in_call: 'arrived',
  completed: 'fulfilled',
  cancelled: 'cancelled',
  no_show: 'noshow',
};
const R4_STATUSES = new Set([
  'proposed',
  'pending',
  'booked',
  'arrived',
  'fulfilled',
  'cancelled',
  'noshow',
  'entered-in-error',
  'checked-in',
  'waitlist',
]);

export function toAppointment(row: Row): Appointment {
  const status = FHIR_STATUS[row.status];
  return {
    resourceType: 'Appointment',
    id: row.id,
    meta: { lastUpdated: row.updatedAt.toISOString() },
    status,
    serviceType: [consultTypeConcept({ id: row.consultTypeId, name: row.typeName })],
    start: row.startsAt.toISOString(),
    end: row.endsAt.toISOString(),
    minutesDuration: Math.round((row.endsAt.getTime() - row.startsAt.getTime()) / 60_000),
    created: row.createdAt.toISOString(),
    participant: [
      { actor: ref('Patient', row.patientId), required: 'required', status: 'accepted' },
      {
        actor: ref('Practitioner', row.doctorId),
        required: 'required',
        status: row.status === 'requested' ? 'needs-action' : 'accepted',
      },
    ],
  };
}

const isCursor = (v: unknown): v is { at: string; id: string } =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as { at?: unknown }).at === 'string' &&
  typeof (v as { id?: unknown }).id === 'string' &&
  !Number.isNaN(Date.parse((v as { at: string }).at));

const selectRows = (tx: Tx) =>
  tx
    .select({ a: appointments, typeName: consultTypes.name })
    .from(appointments)
    .innerJoin(consultTypes, eq(consultTypes.id, appointments.consultTypeId));

/**
 * Appointments of the patients the caller may see, as the policy decides each one
 * (fhir.appointment.read): the patient side, the appointment's doctor, the doctors treating the
 * patient in that clinic. Every appointment shown is audited in the transaction that reads it.
 */
export class AppointmentProvider implements ResourceProvider {
  readonly type = 'Appointment' as const;
  readonly documentation = 'Appointments of the patients the caller may see, ordered by start.';
  readonly params = [
    {
      name: 'patient',
      alias: 'subject',
      type: 'reference' as const,
      target: ['Patient'],
      documentation: 'The patient (Patient/<id>).',
    },
    {
      name: 'practitioner',
      type: 'reference' as const,
      target: ['Practitioner'],
      documentation: 'The doctor (Practitioner/<id>).',
    },
    {
      name: 'date',
      type: 'date' as const,
      documentation: 'Appointment start, with prefixes eq, lt, le, gt, ge.',
    },
    {
      name: 'status',
      type: 'token' as const,
      documentation: 'R4 appointment status; several comma-separated.',
    },
  ];
  readonly includes = ['Appointment:patient', 'Appointment:practitioner'];

  constructor(
    private readonly access: RecordAccess,
    private readonly patients: PatientProvider,
    private readonly practitioners: PractitionerProvider,
    private readonly booking: AppointmentBooking,
  ) {}

  /** POST /Appointment: a booking of one Slot (appointment-booking.ts). */
  create(actor: Actor, body: unknown): Promise<Appointment> {
    return this.booking.create(actor, body);
  }

  async read(actor: Actor, id: string): Promise<Appointment> {
    let resource;
    try {
      ({ resource } = await appointmentResource(this.access.deps.db, id));
    } catch (err) {
      if (err instanceof ProblemError && err.code === PROBLEM.notFound) throw fhirNotFound('Appointment');
      throw err;
    }
    const entries = await this.access.decide(actor, 'fhir.appointment.read', resource, 'Appointment');
    const row = await this.access.audited(async (tx) => {
      const [r] = await selectRows(tx).where(eq(appointments.id, id));
      return { result: r, entries };
    });
    if (!row) throw fhirNotFound('Appointment');
    return toAppointment({ ...row.a, typeName: row.typeName });
  }

  async search(actor: Actor, s: ParsedSearch): Promise<SearchPage> {
    const conds = this.#conditions(actor, s);
    if (!conds) return { matches: [] };
    const cursor = decodeCursor(s.cursor, isCursor);
    if (cursor) {
      const at = new Date(cursor.at);
      conds.push(
        or(
          sql`${appointments.startsAt} > ${at.toISOString()}::timestamptz`,
          and(eq(appointments.startsAt, at), sql`${appointments.id} > ${cursor.id}`),
        )!,
      );
    }
    const { rows, more, patients } = await this.access.audited(async (tx) => {
      const found = await selectRows(tx)
        .where(and(...conds))
        .orderBy(asc(appointments.startsAt), asc(appointments.id))
        .limit(s.count + 1);
      const page = found.slice(0, s.count);
      const facts = await loadPatientFactsMany(
        tx,
        page.map((r) => r.a.patientId),
      );
      const entries: AuditEntry[] = [];
      const allowed = page.filter(({ a }) => {
        const patient = facts.get(a.patientId);
        const decided =
          patient &&
          this.access.row(actor, 'fhir.appointment.read', {
            type: 'appointment',
            appointmentId: a.id,
            clinicId: a.clinicId,
            doctorId: a.doctorId,
            patient,
          });
        if (decided) entries.push(...decided);
        return !!decided;
      });
      const last = page[page.length - 1];
      // The included patients are read and audited in the page's transaction: one append, one commit.
      const patients = s.includes.includes('Appointment:patient')
        ? await this.patients.patientsWithin(tx, actor, [...new Set(allowed.map((r) => r.a.patientId))])
        : { result: [], entries: [] };
      return {
        result: {
          rows: allowed,
          more: found.length > s.count && last ? last.a : undefined,
          patients: patients.result,
        },
        entries: [...entries, ...patients.entries],
      };
    });
    const included: Resource[] = [...patients];
    if (s.includes.includes('Appointment:practitioner'))
      included.push(
        ...(await this.practitioners.practitioners(actor, [...new Set(rows.map((r) => r.a.doctorId))])),
      );
    return {
      matches: rows.map((r) => toAppointment({ ...r.a, typeName: r.typeName })),
      ...(included.length ? { included } : {}),
      ...(more ? { next: { at: more.startsAt.toISOString(), id: more.id } } : {}),
    };
  }

  /** The query's conditions: the actor's scope, then the search's filters; undefined when nothing can match. */
  #conditions(actor: Actor, s: ParsedSearch): SQL[] | undefined {
    const scope = appointmentScope(actor);
    const range = s.dates.get('date');
    if (!scope || emptyRange(range)) return undefined;
    const conds = [scope];
    const patient = s.refs.get('patient');
    const doctor = s.refs.get('practitioner');
    if (patient) conds.push(eq(appointments.patientId, patient.id));
    if (doctor) conds.push(eq(appointments.doctorId, doctor.id));
    if (range?.from) conds.push(gte(appointments.startsAt, range.from));
    if (range?.to) conds.push(lt(appointments.startsAt, range.to));
    if (s.ids) conds.push(inArray(appointments.id, s.ids));
    const statuses = s.tokens.get('status');
    if (statuses) {
      const bad = statuses.find((c) => !R4_STATUSES.has(c));
      if (bad)
        throw new ProblemError(400, PROBLEM.invalidQuery, 'the search is invalid', [
          { field: 'status', message: `${bad} is not an R4 appointment status` },
        ]);
      const ours = (Object.keys(FHIR_STATUS) as AppointmentStatus[]).filter((k) =>
        statuses.includes(FHIR_STATUS[k]),
      );
      if (!ours.length) return undefined;
      conds.push(inArray(appointments.status, ours));
    }
    return conds;
  }
}

/**
 * The appointments an actor could be allowed to see, as a condition, so that pages are filled
 * from the right rows (the policy still decides each). Undefined: none at all.
 */
function appointmentScope(actor: Actor): SQL | undefined {
  if (actor.onBehalfOf) return eq(appointments.patientId, actor.onBehalfOf);
  if (actor.role === 'patient') return eq(appointments.patientId, actor.userId);
  if (actor.role !== 'doctor' || !actor.clinicIds.length) return undefined;
  const clinics = [...actor.clinicIds];
  return and(
    inArray(appointments.clinicId, clinics),
    or(
      eq(appointments.doctorId, actor.userId),
      sql`exists (select 1 from ${careRelationships} r where r.patient_id = ${appointments.patientId} and r.doctor_id = ${actor.userId} and r.clinic_id = ${appointments.clinicId})`,
      sql`exists (select 1 from ${breakGlassGrants} b where b.patient_id = ${appointments.patientId} and b.doctor_id = ${actor.userId} and b.clinic_id = ${appointments.clinicId} and b.expires_at > now())`,
    ),
  );
}
