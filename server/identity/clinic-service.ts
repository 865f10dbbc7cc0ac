import { randomUUID } from 'node:crypto';
import { and, eq, inArray } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { careRelationships, clinicMembers, clinics, users } from '../../db/schema/index.ts';
import { ProblemError } from '../api/errors.ts';
import { PROBLEM } from '../api/problem-codes.ts';
import type { MembershipChanges } from './membership-changes.ts';

const STAFF = ['clinic_admin', 'doctor', 'operator', 'partner'] as const;

/** Clinics, their members and treating relationships. Authorization happens before these are called. */
export class ClinicService {
  constructor(
    private readonly db: Db,
    private readonly memberships: MembershipChanges,
  ) {}

  async create(input: { name: string; idleTimeoutSeconds?: number | null | undefined }) {
    const id = randomUUID();
    const [row] = await this.db
      .insert(clinics)
      .values({ id, name: input.name, idleTimeoutSeconds: input.idleTimeoutSeconds ?? null })
      .returning();
    return row!;
  }

  async get(clinicId: string) {
    const [row] = await this.db.select().from(clinics).where(eq(clinics.id, clinicId));
    if (!row) throw new ProblemError(404, PROBLEM.notFound, 'no such clinic');
    return row;
  }

  async update(
    clinicId: string,
    patch: { name?: string | undefined; idleTimeoutSeconds?: number | null | undefined },
  ) {
    const [row] = await this.db.update(clinics).set(patch).where(eq(clinics.id, clinicId)).returning();
    if (!row) throw new ProblemError(404, PROBLEM.notFound, 'no such clinic');
    return row;
  }

  staff(clinicId: string) {
    return this.db
      .select({ id: users.id, role: users.role, displayName: users.displayName })
      .from(clinicMembers)
      .innerJoin(users, eq(users.id, clinicMembers.userId))
      .where(and(eq(clinicMembers.clinicId, clinicId), inArray(users.role, [...STAFF])));
  }

  /** Patients of the clinic; a doctor sees only the patients they treat there. */
  async patients(clinicId: string, onlyTreatedBy?: string) {
    const base = this.db
      .select({ id: users.id, displayName: users.displayName, dateOfBirth: users.dateOfBirth })
      .from(clinicMembers)
      .innerJoin(users, eq(users.id, clinicMembers.userId));
    if (onlyTreatedBy) {
      return base
        .innerJoin(
          careRelationships,
          and(
            eq(careRelationships.patientId, users.id),
            eq(careRelationships.clinicId, clinicId),
            eq(careRelationships.doctorId, onlyTreatedBy),
          ),
        )
        .where(and(eq(clinicMembers.clinicId, clinicId), eq(users.role, 'patient')));
    }
    return base.where(and(eq(clinicMembers.clinicId, clinicId), eq(users.role, 'patient')));
  }

  async assignCare(input: { clinicId: string; doctorId: string; patientId: string; createdBy: string }) {
    const members = await this.db
      .select({ id: users.id, role: users.role })
      .from(clinicMembers)
      .innerJoin(users, eq(users.id, clinicMembers.userId))
      .where(
        and(eq(clinicMembers.clinicId, input.clinicId), inArray(users.id, [input.doctorId, input.patientId])),
      );
    const errors = [];
    if (!members.some((m) => m.id === input.doctorId && m.role === 'doctor'))
      errors.push({ field: 'doctorId', message: 'not a doctor of this clinic' });
    if (!members.some((m) => m.id === input.patientId && m.role === 'patient'))
      errors.push({ field: 'patientId', message: 'not a patient of this clinic' });
    if (errors.length)
      throw new ProblemError(422, PROBLEM.invalidRelationship, 'cannot create this relationship', errors);
    await this.db.insert(careRelationships).values(input).onConflictDoNothing();
    this.memberships.changed([input.doctorId, input.patientId]);
  }
}
