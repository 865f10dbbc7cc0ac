import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { encounters } from '../../../db/schema/index.ts';
import { ProblemError } from '../../api/errors.ts';
import { PROBLEM } from '../../api/problem-codes.ts';
import type { Actor } from '../../policy/types.ts';
import { sqlState } from '../../scheduling/sql-state.ts';
import { commitVersion, type CommittedVersion, type VersionPlan } from './commit-version.ts';
import { noSuchEncounter, type RecordsContext } from './deps.ts';
import { finalised } from './drafts.ts';
import { resolveContent, type EncounterContent, type ParsedEncounterContent } from './encounter-content.ts';
import {
  signAndStoreSummary,
  summaryBlobId,
  summaryInput,
  summaryParties,
  verifyUrlOf,
  type StoredSummary,
} from './summary-document.ts';

/** Where an appointment must stand for its encounter to be finalised: the call took place. */
const FINALISABLE: readonly string[] = ['in_call', 'completed'];
const UNIQUE_VIOLATION = '23505';

/**
 * Finalising and amending. The PDF is rendered, signed and stored (encrypted) before the
 * transaction opens, which keeps the transaction short; if the transaction does not commit, the
 * stored PDF is deleted again, so a failure at any step leaves nothing behind.
 */
export class EncounterFinaliser {
  constructor(private readonly ctx: RecordsContext) {}

  /** The draft becomes version 1, immutable from now on; `ifMatch` (optional) pins the revision the doctor saw. */
  async finalise(actor: Actor, appointmentId: string, ifMatch?: number | null): Promise<CommittedVersion> {
    const { appointment, resource } = await this.ctx.encounterFacts(appointmentId);
    const { entry } = await this.ctx.deps.policy.requireDeferred(actor, 'encounter.finalise', resource);
    const draft = await this.ctx.draftRow(this.ctx.deps.db, appointmentId);
    if (!draft) throw new ProblemError(404, PROBLEM.notFound, 'no encounter draft to finalise');
    if (draft.status === 'finalised') throw finalised();
    if (ifMatch !== undefined && ifMatch !== draft.revision)
      throw new ProblemError(409, PROBLEM.conflict, 'the draft changed since you saw it: reload it first');
    if (!FINALISABLE.includes(appointment.status))
      throw new ProblemError(
        409,
        PROBLEM.invalidTransition,
        `the appointment is ${appointment.status}: only a consultation that took place is finalised`,
      );
    const content = await this.ctx.content.open(draft.patientId, draft.id, draft.sealedContent);
    requireDiagnosis(content);

    const summary = await this.#summary(appointment, content, actor.userId);
    const result = await this.#commit(summary, {
      actor,
      encounterId: draft.id,
      version: 1,
      appointmentId,
      clinicId: appointment.clinicId,
      patientId: appointment.patientId,
      content,
      summary,
      completeAppointment: true,
      event: 'record.finalised',
      entries: entry ? [entry] : [],
      writeEncounter: async (tx) => {
        // Conditional on the revision the PDF was made from: a save in between makes this a 409.
        const done = await tx
          .update(encounters)
          .set({ status: 'finalised', finalisedAt: summary.signedAt, updatedAt: summary.signedAt })
          .where(
            and(
              eq(encounters.id, draft.id),
              eq(encounters.status, 'draft'),
              eq(encounters.revision, draft.revision),
            ),
          )
          .returning({ id: encounters.id });
        return done.length === 1;
      },
    });
    if (result.appointmentCompleted) await this.ctx.deps.onStatusChange?.(appointmentId, 'completed');
    return result;
  }

  /**
   * A new finalised version replacing the latest one, with who (the actor) and why (`reason`); the
   * versions before stay as they were. `amends` (optional) names the version the doctor amended:
   * if another amendment came first, 409.
   */
  async amend(
    actor: Actor,
    appointmentId: string,
    input: { reason: string; content: ParsedEncounterContent; amends?: string | undefined },
  ): Promise<CommittedVersion> {
    const { appointment, resource } = await this.ctx.encounterFacts(appointmentId);
    const { entry } = await this.ctx.deps.policy.requireDeferred(actor, 'encounter.amend', resource, {
      reason: 'amendment',
    });
    const versions = await this.ctx.versions(this.ctx.deps.db, appointmentId);
    const latest = versions.at(-1);
    if (!latest) throw noSuchEncounter();
    if (latest.status !== 'finalised')
      throw new ProblemError(
        409,
        PROBLEM.conflict,
        'the encounter is not finalised yet: edit its draft instead',
      );
    if (input.amends !== undefined && input.amends !== latest.id)
      throw new ProblemError(409, PROBLEM.conflict, 'the encounter was amended meanwhile: reload it first');
    const content = await resolveContent(this.ctx.deps.db, input.content);
    requireDiagnosis(content);

    const id = randomUUID();
    const version = latest.version + 1;
    const [sealedContent, sealedReason] = await Promise.all([
      this.ctx.content.seal(appointment.patientId, id, content),
      this.ctx.content.sealReason(appointment.patientId, id, input.reason),
    ]);
    const summary = await this.#summary(appointment, content, actor.userId, {
      version,
      reason: input.reason,
    });
    return this.#commit(summary, {
      actor,
      encounterId: id,
      version,
      appointmentId,
      clinicId: appointment.clinicId,
      patientId: appointment.patientId,
      content,
      summary,
      completeAppointment: false,
      event: 'record.amended',
      entries: entry ? [entry] : [],
      writeEncounter: async (tx) => {
        await tx.insert(encounters).values({
          id,
          appointmentId,
          clinicId: appointment.clinicId,
          patientId: appointment.patientId,
          authorId: actor.userId,
          version,
          previousId: latest.id,
          status: 'finalised',
          revision: 1,
          sealedContent,
          sealedAmendmentReason: sealedReason,
          createdAt: summary.signedAt,
          updatedAt: summary.signedAt,
          finalisedAt: summary.signedAt,
        });
        return true;
      },
    });
  }

  async #summary(
    appointment: Parameters<typeof summaryParties>[1],
    content: EncounterContent,
    authorId: string,
    amendment?: { version: number; reason: string },
  ): Promise<StoredSummary> {
    const parties = await summaryParties(this.ctx.deps.db, appointment, authorId);
    const documentId = randomUUID();
    const input = summaryInput(documentId, content, parties, appointment, {
      verifyUrl: verifyUrlOf(this.ctx.deps.publicUrl()),
      ...(amendment ? { amendment } : {}),
    });
    return signAndStoreSummary(
      this.ctx.deps,
      { ...input, documentId },
      appointment.clinicId,
      appointment.patientId,
      (step) => this.ctx.step(step),
    ).catch(async (err) => {
      // The blob may have been written before a later part of this step failed.
      await this.ctx.deps.blobs.delete(summaryBlobId(documentId)).catch(() => false);
      throw err;
    });
  }

  async #commit(summary: StoredSummary, plan: VersionPlan): Promise<CommittedVersion> {
    try {
      return await commitVersion(this.ctx, plan);
    } catch (err) {
      await this.ctx.deps.blobs.delete(summary.blobId).catch(() => false);
      // Another amendment (or finalisation) of the same version committed first.
      if (sqlState(err) === UNIQUE_VIOLATION)
        throw new ProblemError(409, PROBLEM.conflict, 'the encounter was amended meanwhile: reload it first');
      throw err;
    }
  }
}

function requireDiagnosis(content: EncounterContent): void {
  if (content.diagnoses.length === 0)
    throw new ProblemError(
      422,
      PROBLEM.encounterIncomplete,
      'an encounter is finalised with at least one diagnosis',
      [{ field: 'diagnoses', message: 'at least one diagnosis' }],
    );
}
