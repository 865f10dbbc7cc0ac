import { randomUUID } from 'node:crypto';
import type { MembershipChanges } from './membership-changes.ts';
import { eq } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { clinicMembers, guardianships, users } from '../../db/schema/index.ts';
import { ProblemError } from '../api/errors.ts';
import { PROBLEM } from '../api/problem-codes.ts';

/** Whole years between a YYYY-MM-DD birth date and today (UTC). */
export function ageInYears(dateOfBirth: string, today = new Date()): number {
  const [y, m, d] = dateOfBirth.split('-').map(Number) as [number, number, number];
  let age = today.getUTCFullYear() - y;
  if (today.getUTCMonth() + 1 < m || (today.getUTCMonth() + 1 === m && today.getUTCDate() < d)) age--;
  return age;
}

/**
 * Dependents are minors with a patient record but no login of their own. Their guardian creates
 * them inside one of the guardian's clinics and acts for them with an on-behalf-of header.
 */
export class DependentService {
  constructor(
    private readonly db: Db,
    private readonly memberships: MembershipChanges,
  ) {}

  async create(
    guardian: { userId: string; clinicIds: readonly string[] },
    input: { displayName: string; dateOfBirth: string; clinicId: string },
  ) {
    const errors = [];
    if (!guardian.clinicIds.includes(input.clinicId))
      errors.push({ field: 'clinicId', message: 'you are not a member of this clinic' });
    const age = ageInYears(input.dateOfBirth);
    if (age >= 18 || age < 0)
      errors.push({ field: 'dateOfBirth', message: 'a dependent must be a minor (under 18)' });
    if (errors.length)
      throw new ProblemError(422, PROBLEM.invalidDependent, 'cannot add this dependent', errors);
    const id = randomUUID();
    await this.db.transaction(async (tx) => {
      await tx
        .insert(users)
        .values({ id, role: 'patient', displayName: input.displayName, dateOfBirth: input.dateOfBirth });
      await tx.insert(guardianships).values({ guardianId: guardian.userId, dependentId: id });
      await tx.insert(clinicMembers).values({ clinicId: input.clinicId, userId: id });
    });
    // The guardian now acts for one more patient: their open sockets may carry its threads.
    this.memberships.changed([guardian.userId]);
    return { id, displayName: input.displayName, dateOfBirth: input.dateOfBirth };
  }

  list(guardianId: string) {
    return this.db
      .select({ id: users.id, displayName: users.displayName, dateOfBirth: users.dateOfBirth })
      .from(guardianships)
      .innerJoin(users, eq(users.id, guardianships.dependentId))
      .where(eq(guardianships.guardianId, guardianId));
  }
}
