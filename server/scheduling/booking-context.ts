import { sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { rowsOf } from '../../db/rows.ts';
import { availabilityExceptions, availabilityRules, clinicMembers, clinicSchedulingSettings, consultTypes, doctorLicences, doctorSchedules, users, type ConsultKind } from '../../db/schema/index.ts';
import { DEFAULT_SETTINGS, type SchedulingSettings } from './clinic-settings.ts';
import type { AvailabilityException, WeeklyRule } from './slots.ts';
import { addDays } from './zoned-time.ts';

export type BookingContext = {
  consultType: { id: string; kind: ConsultKind; durationMinutes: number; priceMinor: number; currency: string } | null;
  doctorInClinic: boolean;
  settings: SchedulingSettings;
  timeZone: string | null;
  rules: WeeklyRule[];
  exceptions: AvailabilityException[];
  /** Licences in the patient's jurisdiction or its country. */
  licences: { validFrom: Date; expiresAt: Date }[];
};

/**
 * Everything a booking must be checked against, in one round trip: the consult type (active, of
 * this clinic), whether the doctor belongs to the clinic, the clinic's settings, the doctor's zone,
 * rules, the exceptions on the dates around the time, and licences where the patient is.
 */
export async function loadBookingContext(db: Db, q: { clinicId: string; doctorId: string; consultTypeId: string; jurisdiction: string; around: Date }): Promise<BookingContext> {
  const day = q.around.toISOString().slice(0, 10);
  const jurisdictions = [...new Set([q.jurisdiction, q.jurisdiction.split('-')[0]!])];
  const result = await db.execute(sql`
    select
      (select json_build_object('id', t.id, 'kind', t.kind, 'durationMinutes', t.duration_minutes, 'priceMinor', t.price_minor, 'currency', t.currency)
         from ${consultTypes} t where t.id = ${q.consultTypeId} and t.clinic_id = ${q.clinicId} and t.active) as consult_type,
      exists (select 1 from ${clinicMembers} m join ${users} u on u.id = m.user_id
               where m.clinic_id = ${q.clinicId} and m.user_id = ${q.doctorId} and u.role = 'doctor') as doctor_in_clinic,
      (select json_build_object('requiresApproval', s.requires_approval, 'reminderOffsetsMinutes', s.reminder_offsets_minutes)
         from ${clinicSchedulingSettings} s where s.clinic_id = ${q.clinicId}) as settings,
      (select d.time_zone from ${doctorSchedules} d where d.doctor_id = ${q.doctorId}) as time_zone,
      (select coalesce(json_agg(json_build_object('weekday', r.weekday, 'startMinute', r.start_minute, 'endMinute', r.end_minute, 'validFrom', r.valid_from, 'validUntil', r.valid_until)), '[]')
         from ${availabilityRules} r where r.doctor_id = ${q.doctorId}) as rules,
      (select coalesce(json_agg(json_build_object('date', e.date, 'kind', e.kind, 'startMinute', e.start_minute, 'endMinute', e.end_minute)), '[]')
         from ${availabilityExceptions} e where e.doctor_id = ${q.doctorId} and e.date between ${addDays(day, -2)}::date and ${addDays(day, 2)}::date) as exceptions,
      (select coalesce(json_agg(json_build_object('validFrom', l.valid_from, 'expiresAt', l.expires_at)), '[]')
         from ${doctorLicences} l where l.doctor_id = ${q.doctorId} and l.jurisdiction in (${sql.join(jurisdictions.map((j) => sql`${j}`), sql`, `)})) as licences`);
  const [row] = rowsOf<{
    consult_type: BookingContext['consultType'];
    doctor_in_clinic: boolean;
    settings: SchedulingSettings | null;
    time_zone: string | null;
    rules: WeeklyRule[];
    exceptions: AvailabilityException[];
    licences: { validFrom: string; expiresAt: string }[];
  }>(result);
  return {
    consultType: row!.consult_type,
    doctorInClinic: row!.doctor_in_clinic,
    settings: row!.settings ?? { ...DEFAULT_SETTINGS },
    timeZone: row!.time_zone,
    rules: row!.rules,
    exceptions: row!.exceptions,
    licences: row!.licences.map((l) => ({ validFrom: new Date(l.validFrom), expiresAt: new Date(l.expiresAt) })),
  };
}
