import { and, eq } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { appointments, clinicMembers, users } from '../../db/schema/index.ts';
import { ProblemError } from '../api/errors.ts';
import { loadPatientFacts } from '../policy/patient-facts.ts';
import type { Resource } from '../policy/types.ts';
import { PROBLEM } from '../api/problem-codes.ts';

export type DoctorResource = Extract<Resource, { type: 'doctor' }>;
export type AppointmentResource = Extract<Resource, { type: 'appointment' }>;
export type AppointmentRow = typeof appointments.$inferSelect;

/**
 * Policy facts for scheduling resources. Unknown ids answer 404 only where that reveals nothing a
 * clinic member could not list anyway (doctors); an unknown appointment is 404 for everyone.
 */
export async function doctorResource(db: Db, doctorId: string): Promise<DoctorResource> {
  const rows = await db
    .select({ role: users.role, clinicId: clinicMembers.clinicId })
    .from(users)
    .leftJoin(clinicMembers, eq(clinicMembers.userId, users.id))
    .where(eq(users.id, doctorId));
  if (!rows.length || rows[0]!.role !== 'doctor')
    throw new ProblemError(404, PROBLEM.notFound, 'no such doctor');
  return { type: 'doctor', doctorId, clinicIds: rows.flatMap((r) => (r.clinicId ? [r.clinicId] : [])) };
}

export async function appointmentResource(
  db: Db,
  appointmentId: string,
): Promise<{ row: AppointmentRow; resource: AppointmentResource }> {
  const [row] = await db.select().from(appointments).where(eq(appointments.id, appointmentId));
  if (!row) throw new ProblemError(404, PROBLEM.notFound, 'no such appointment');
  const patient = await loadPatientFacts(db, row.patientId);
  if (!patient) throw new ProblemError(404, PROBLEM.notFound, 'no such appointment');
  return {
    row,
    resource: { type: 'appointment', appointmentId, clinicId: row.clinicId, doctorId: row.doctorId, patient },
  };
}

export async function isDoctorOfClinic(db: Db, doctorId: string, clinicId: string): Promise<boolean> {
  const [row] = await db
    .select({ id: users.id })
    .from(clinicMembers)
    .innerJoin(users, eq(users.id, clinicMembers.userId))
    .where(
      and(eq(clinicMembers.clinicId, clinicId), eq(clinicMembers.userId, doctorId), eq(users.role, 'doctor')),
    );
  return !!row;
}
