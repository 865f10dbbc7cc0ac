import { randomUUID } from 'node:crypto';
import { desc, eq } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { breakGlassGrants, patientNotes, users } from '../../db/schema/index.ts';
import { ProblemError } from '../api/errors.ts';

/** Reads and writes of a patient's record. Callers have passed the policy (and it audited them). */
export class PatientService {
  constructor(private readonly db: Db) {}

  async profile(patientId: string) {
    const [p] = await this.db
      .select({ id: users.id, displayName: users.displayName, email: users.email, phone: users.phone, dateOfBirth: users.dateOfBirth })
      .from(users)
      .where(eq(users.id, patientId));
    if (!p) throw new ProblemError(404, 'not_found', 'no such patient');
    return p;
  }

  notes(patientId: string) {
    return this.db
      .select({ id: patientNotes.id, clinicId: patientNotes.clinicId, authorId: patientNotes.authorId, body: patientNotes.body, createdAt: patientNotes.createdAt })
      .from(patientNotes)
      .where(eq(patientNotes.patientId, patientId))
      .orderBy(desc(patientNotes.createdAt))
      .limit(200);
  }

  async addNote(input: { patientId: string; clinicId: string; authorId: string; body: string }) {
    const [row] = await this.db.insert(patientNotes).values({ id: randomUUID(), ...input }).returning();
    return row!;
  }

  async grantBreakGlass(input: { doctorId: string; patientId: string; clinicId: string; reason: string; ttlSeconds: number }) {
    const id = randomUUID();
    const expiresAt = new Date(Date.now() + input.ttlSeconds * 1000);
    await this.db.insert(breakGlassGrants).values({ id, doctorId: input.doctorId, patientId: input.patientId, clinicId: input.clinicId, reason: input.reason, expiresAt });
    return { id, expiresAt };
  }
}
