import { sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { rowsOf } from '../../db/rows.ts';
import {
  availabilityExceptions,
  availabilityRules,
  clinicMembers,
  clinicSchedulingSettings,
  consultTypes,
  doctorLicences,
  doctorSchedules,
  users,
  type ConsultKind,
} from '../../db/schema/index.ts';
import { Batcher } from '../batcher.ts';
import { patientFactsColumns, patientFactsFrom, type PatientFactsRow } from '../policy/patient-facts.ts';
import type { PatientFacts } from '../policy/types.ts';
import { DEFAULT_SETTINGS, type SchedulingSettings } from './clinic-settings.ts';
import type { AvailabilityException, WeeklyRule } from './slots.ts';
import { addDays } from './zoned-time.ts';

export type BookingContextQuery = {
  patientId: string;
  clinicId: string;
  doctorId: string;
  consultTypeId: string;
  jurisdiction: string;
  around: Date;
};

export type BookingContext = {
  /** The patient's policy facts; undefined when there is no such patient. */
  patient: PatientFacts | undefined;
  consultType: {
    id: string;
    kind: ConsultKind;
    durationMinutes: number;
    priceMinor: number;
    currency: string;
  } | null;
  doctorInClinic: boolean;
  settings: SchedulingSettings;
  timeZone: string | null;
  rules: WeeklyRule[];
  exceptions: AvailabilityException[];
  /** Licences in the patient's jurisdiction or its country. */
  licences: { validFrom: Date; expiresAt: Date }[];
};

type ContextRow = PatientFactsRow & {
  i: number;
  consult_type: BookingContext['consultType'];
  doctor_in_clinic: boolean;
  settings: SchedulingSettings | null;
  time_zone: string | null;
  rules: WeeklyRule[];
  exceptions: AvailabilityException[];
  licences: { validFrom: string; expiresAt: string }[];
};

/**
 * Everything a booking is checked against, for many bookings in one query: the patient's policy
 * facts, the consult type (active, of this clinic), whether the doctor belongs to the clinic, the
 * clinic's settings, the doctor's zone and rules, the exceptions on the dates around the time, and
 * licences where the patient is. Bookings arriving together share the query (see Batcher).
 */
export class BookingContextLoader {
  readonly #batches = new Batcher<BookingContextQuery, BookingContext>(
    (qs) => loadBookingContexts(this.db, qs),
    { maxBatch: 128, inFlight: 2 },
  );

  constructor(private readonly db: Db) {}

  load(q: BookingContextQuery): Promise<BookingContext> {
    return this.#batches.submit(q);
  }
}

export async function loadBookingContexts(
  db: Db,
  qs: readonly BookingContextQuery[],
): Promise<BookingContext[]> {
  const input = qs.map((q, i) => {
    const day = q.around.toISOString().slice(0, 10);
    return {
      i,
      patient_id: q.patientId,
      clinic_id: q.clinicId,
      doctor_id: q.doctorId,
      consult_type_id: q.consultTypeId,
      jurisdiction: q.jurisdiction,
      country: q.jurisdiction.split('-')[0],
      day_from: addDays(day, -2),
      day_to: addDays(day, 2),
    };
  });
  const result = await db.execute(sql`
    select q.i, ${patientFactsColumns(new Date())},
      (select json_build_object('id', t.id, 'kind', t.kind, 'durationMinutes', t.duration_minutes, 'priceMinor', t.price_minor, 'currency', t.currency)
         from ${consultTypes} t where t.id = q.consult_type_id and t.clinic_id = q.clinic_id and t.active) as consult_type,
      exists (select 1 from ${clinicMembers} m join ${users} d on d.id = m.user_id
               where m.clinic_id = q.clinic_id and m.user_id = q.doctor_id and d.role = 'doctor') as doctor_in_clinic,
      (select json_build_object('requiresApproval', s.requires_approval, 'reminderOffsetsMinutes', s.reminder_offsets_minutes)
         from ${clinicSchedulingSettings} s where s.clinic_id = q.clinic_id) as settings,
      (select d.time_zone from ${doctorSchedules} d where d.doctor_id = q.doctor_id) as time_zone,
      (select coalesce(json_agg(json_build_object('weekday', r.weekday, 'startMinute', r.start_minute, 'endMinute', r.end_minute, 'validFrom', r.valid_from, 'validUntil', r.valid_until)), '[]')
         from ${availabilityRules} r where r.doctor_id = q.doctor_id) as rules,
      (select coalesce(json_agg(json_build_object('date', e.date, 'kind', e.kind, 'startMinute', e.start_minute, 'endMinute', e.end_minute)), '[]')
         from ${availabilityExceptions} e where e.doctor_id = q.doctor_id and e.date between q.day_from and q.day_to) as exceptions,
      (select coalesce(json_agg(json_build_object('validFrom', l.valid_from, 'expiresAt', l.expires_at)), '[]')
         from ${doctorLicences} l where l.doctor_id = q.doctor_id and l.jurisdiction in (q.jurisdiction, q.country)) as licences
    from json_to_recordset(${JSON.stringify(input)}::json)
      as q(i int, patient_id text, clinic_id text, doctor_id text, consult_type_id text, jurisdiction text, country text, day_from date, day_to date)
    left join ${users} u on u.id = q.patient_id
    order by q.i`);
  return rowsOf<ContextRow>(result).map((row, i) => ({
    patient: patientFactsFrom(qs[i]!.patientId, row),
    consultType: row.consult_type,
    doctorInClinic: row.doctor_in_clinic,
    settings: row.settings ?? { ...DEFAULT_SETTINGS },
    timeZone: row.time_zone,
    rules: row.rules,
    exceptions: row.exceptions,
    licences: row.licences.map((l) => ({
      validFrom: new Date(l.validFrom),
      expiresAt: new Date(l.expiresAt),
    })),
  }));
}
