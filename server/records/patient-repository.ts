import { randomUUID } from 'node:crypto';
import { asc, desc, eq, isNotNull } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.ts';
import { breakGlassGrants, patientNotes, users } from '../../db/schema/index.ts';
import { ProblemError } from '../api/errors.ts';
import type { AuditEntry, AuditLog } from '../audit/audit-log.ts';
import type { MessageSealer } from '../crypto/index.ts';
import type { Policy } from '../policy/policy.ts';
import type { Actor, PatientFacts } from '../policy/types.ts';
import { PROBLEM } from '../api/problem-codes.ts';

type Deps = {
  db: Db;
  policy: Policy;
  audit: AuditLog;
  sealer: MessageSealer;
  breakGlassTtlSeconds: number;
};

/** Every note of a patient is sealed under the patient's own data key; the note id binds each envelope to its row. */
export const noteScope = (patientId: string) => `patient-notes:${patientId}`;

export type PatientNote = { id: string; clinicId: string; authorId: string; body: string; createdAt: Date };

/**
 * The patient's record (profile, notes, break-glass grants), reached only through a repository
 * bound to one actor. Each operation decides (the policy), reads or writes, and appends its audit
 * entries in ONE transaction: a note and the entry saying who wrote it commit together or not at
 * all, and a read that cannot be audited returns nothing. Note bodies are sealed before they reach
 * the database (MessageSealer: per-patient data key, the note id as associated data).
 */
export class PatientRecords {
  constructor(private readonly deps: Deps) {}

  forActor(actor: Actor): PatientRepository {
    return new PatientRepository(this.deps, actor);
  }

  /**
   * Seals notes written before bodies were sealed (the plaintext_body column, kept nullable by
   * migration 0011 for this step) and clears their plaintext, in batches of one transaction each.
   * Runs at start-up before any request; idempotent, and safe on several nodes at once (rows
   * locked by another node's batch are skipped, and that node seals them).
   */
  async sealPlaintextNotes(batchSize = 200): Promise<number> {
    let sealed = 0;
    for (;;) {
      const done = await this.deps.db.transaction(async (tx) => {
        const rows = await tx
          .select({
            id: patientNotes.id,
            patientId: patientNotes.patientId,
            body: patientNotes.plaintextBody,
          })
          .from(patientNotes)
          .where(isNotNull(patientNotes.plaintextBody))
          .orderBy(asc(patientNotes.id))
          .limit(batchSize)
          .for('update', { skipLocked: true });
        for (const row of rows) {
          const sealedBody = await this.deps.sealer.seal(noteScope(row.patientId), row.id, row.body!);
          await tx
            .update(patientNotes)
            .set({ sealedBody, plaintextBody: null })
            .where(eq(patientNotes.id, row.id));
        }
        return rows.length;
      });
      sealed += done;
      if (done < batchSize) return sealed;
    }
  }
}

export class PatientRepository {
  constructor(
    private readonly deps: Deps,
    readonly actor: Actor,
  ) {}

  async profile(patientId: string) {
    const { entries } = await this.#decide(patientId, 'patient.profile.read');
    const [profile] = await this.#audited(entries, (tx) =>
      tx
        .select({
          id: users.id,
          displayName: users.displayName,
          email: users.email,
          phone: users.phone,
          dateOfBirth: users.dateOfBirth,
        })
        .from(users)
        .where(eq(users.id, patientId)),
    );
    if (!profile) throw new ProblemError(404, PROBLEM.notFound, 'no such patient');
    return profile;
  }

  async notes(patientId: string): Promise<{ notes: PatientNote[]; breakGlass: boolean }> {
    const { entries, breakGlass } = await this.#decide(patientId, 'patient.notes.read');
    const rows = await this.#audited(entries, (tx) =>
      tx
        .select({
          id: patientNotes.id,
          clinicId: patientNotes.clinicId,
          authorId: patientNotes.authorId,
          sealedBody: patientNotes.sealedBody,
          createdAt: patientNotes.createdAt,
        })
        .from(patientNotes)
        .where(eq(patientNotes.patientId, patientId))
        .orderBy(desc(patientNotes.createdAt))
        .limit(200),
    );
    const notes = await Promise.all(
      rows.map(async ({ sealedBody, ...note }) => ({
        ...note,
        body: await this.deps.sealer.openText(noteScope(patientId), note.id, sealedBody!),
      })),
    );
    return { notes, breakGlass };
  }

  async addNote(patientId: string, body: string): Promise<PatientNote> {
    const { facts, entries, breakGlass } = await this.#decide(patientId, 'patient.notes.write');
    const clinicId = this.#sharedClinic(facts);
    const id = randomUUID();
    const sealedBody = await this.deps.sealer.seal(noteScope(patientId), id, body);
    const created = this.deps.audit.entry({
      action: 'patient.note.created',
      outcome: 'allowed',
      resourceType: 'patient_note',
      resourceId: id,
      patientId,
      clinicId,
      breakGlass,
    });
    const [row] = await this.#audited([...entries, created], (tx) =>
      tx
        .insert(patientNotes)
        .values({ id, patientId, clinicId, authorId: this.actor.userId, sealedBody })
        .returning({
          id: patientNotes.id,
          clinicId: patientNotes.clinicId,
          authorId: patientNotes.authorId,
          createdAt: patientNotes.createdAt,
        }),
    );
    return { ...row!, body };
  }

  /** Emergency access without a treating relationship; the reason goes into the audit entry, which is the point. */
  async breakGlass(patientId: string, reason: string): Promise<{ id: string; expiresAt: Date }> {
    const { facts, entries } = await this.#decide(patientId, 'patient.break_glass', { reason });
    const clinicId = this.#sharedClinic(facts);
    const id = randomUUID();
    const expiresAt = new Date(Date.now() + this.deps.breakGlassTtlSeconds * 1000);
    await this.#audited(entries, (tx) =>
      tx
        .insert(breakGlassGrants)
        .values({ id, doctorId: this.actor.userId, patientId, clinicId, reason, expiresAt }),
    );
    return { id, expiresAt };
  }

  /** Facts or 404, then the decision: a denial is audited and thrown here, an allowance comes back with its entry to append. */
  async #decide(
    patientId: string,
    action: 'patient.profile.read' | 'patient.notes.read' | 'patient.notes.write' | 'patient.break_glass',
    audit: { reason?: string } = {},
  ) {
    const facts = await this.deps.policy.patient(patientId);
    const { granted, entry } = await this.deps.policy.requireDeferred(this.actor, action, facts, audit);
    return { facts, entries: entry ? [entry] : [], breakGlass: granted.breakGlass };
  }

  #sharedClinic(facts: PatientFacts): string {
    const clinicId = facts.clinicIds.find((id) => this.actor.clinicIds.includes(id));
    if (!clinicId) throw new ProblemError(403, PROBLEM.forbidden, 'not allowed');
    return clinicId;
  }

  /** The work and its audit entries in one transaction; the entries go last, so the chain's lock is held briefly. */
  #audited<T>(entries: AuditEntry[], work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.deps.db.transaction(async (tx) => {
      const result = await work(tx);
      await this.deps.audit.appendWithin(tx, entries);
      return result;
    });
  }
}
