import { sql, type SQL } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { rowsOf } from '../../db/rows.ts';
import {
  breakGlassGrants,
  careRelationships,
  clinicMembers,
  guardianships,
  users,
} from '../../db/schema/index.ts';
import type { PatientFacts } from './types.ts';

/**
 * The select list of a patient's policy facts for the user row aliased `u` (role, clinics, treating
 * relationships, guardians, break-glass grants). Shared by the single load below and by queries
 * that fetch facts together with other data in one round trip (booking).
 */
export function patientFactsColumns(now: Date): SQL {
  return sql`u.role,
      (select coalesce(json_agg(m.clinic_id), '[]') from ${clinicMembers} m where m.user_id = u.id) as clinic_ids,
      (select coalesce(json_agg(json_build_object('doctorId', r.doctor_id, 'clinicId', r.clinic_id)), '[]') from ${careRelationships} r where r.patient_id = u.id) as relationships,
      (select coalesce(json_agg(g.guardian_id), '[]') from ${guardianships} g where g.dependent_id = u.id) as guardian_ids,
      (select coalesce(json_agg(distinct b.doctor_id), '[]') from ${breakGlassGrants} b where b.patient_id = u.id and b.expires_at > ${now.toISOString()}::timestamptz) as grant_doctor_ids`;
}

export type PatientFactsRow = {
  role: string;
  clinic_ids: string[];
  relationships: { doctorId: string; clinicId: string }[];
  guardian_ids: string[];
  grant_doctor_ids: string[];
};

/** The facts from a row selected with patientFactsColumns; undefined when the user is not a patient. */
export function patientFactsFrom(
  patientId: string,
  row: PatientFactsRow | undefined,
): PatientFacts | undefined {
  if (!row || row.role !== 'patient') return undefined;
  return {
    type: 'patient',
    patientId,
    clinicIds: row.clinic_ids,
    relationships: row.relationships,
    guardianIds: row.guardian_ids,
    breakGlassDoctorIds: row.grant_doctor_ids,
  };
}

/**
 * Loads what the policy needs to know about a patient; undefined when there is no such patient.
 * One round trip (it runs before every patient-scoped request, so it is on every hot path).
 */
export async function loadPatientFacts(db: Db, patientId: string): Promise<PatientFacts | undefined> {
  const result = await db.execute(
    sql`select ${patientFactsColumns(new Date())} from ${users} u where u.id = ${patientId}`,
  );
  return patientFactsFrom(patientId, rowsOf<PatientFactsRow>(result)[0]);
}

/** The facts of several patients in one round trip (a search page); ids that are not patients are absent. */
export async function loadPatientFactsMany(
  db: Pick<Db, 'execute'>,
  patientIds: readonly string[],
): Promise<Map<string, PatientFacts>> {
  const out = new Map<string, PatientFacts>();
  if (!patientIds.length) return out;
  const ids = sql.join(
    [...new Set(patientIds)].map((id) => sql`${id}`),
    sql`, `,
  );
  const result = await db.execute(
    sql`select u.id, ${patientFactsColumns(new Date())} from ${users} u where u.id in (${ids})`,
  );
  for (const row of rowsOf<PatientFactsRow & { id: string }>(result)) {
    const facts = patientFactsFrom(row.id, row);
    if (facts) out.set(row.id, facts);
  }
  return out;
}
