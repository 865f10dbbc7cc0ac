import { and, eq, gt } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { breakGlassGrants, careRelationships, clinicMembers, guardianships, users } from '../../db/schema/index.ts';
import type { PatientFacts } from './types.ts';

/** Loads what the policy needs to know about a patient; undefined when there is no such patient. */
export async function loadPatientFacts(db: Db, patientId: string): Promise<PatientFacts | undefined> {
  const [user] = await db.select({ id: users.id, role: users.role }).from(users).where(eq(users.id, patientId));
  if (!user || user.role !== 'patient') return undefined;
  const [clinics, relationships, guardians, grants] = await Promise.all([
    db.select({ clinicId: clinicMembers.clinicId }).from(clinicMembers).where(eq(clinicMembers.userId, patientId)),
    db
      .select({ doctorId: careRelationships.doctorId, clinicId: careRelationships.clinicId })
      .from(careRelationships)
      .where(eq(careRelationships.patientId, patientId)),
    db.select({ guardianId: guardianships.guardianId }).from(guardianships).where(eq(guardianships.dependentId, patientId)),
    db
      .select({ doctorId: breakGlassGrants.doctorId })
      .from(breakGlassGrants)
      .where(and(eq(breakGlassGrants.patientId, patientId), gt(breakGlassGrants.expiresAt, new Date()))),
  ]);
  return {
    type: 'patient',
    patientId,
    clinicIds: clinics.map((c) => c.clinicId),
    relationships,
    guardianIds: guardians.map((g) => g.guardianId),
    breakGlassDoctorIds: [...new Set(grants.map((g) => g.doctorId))],
  };
}

export async function loadClinicIds(db: Db, userId: string): Promise<string[]> {
  const rows = await db.select({ clinicId: clinicMembers.clinicId }).from(clinicMembers).where(eq(clinicMembers.userId, userId));
  return rows.map((r) => r.clinicId);
}
