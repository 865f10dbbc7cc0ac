import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { encounters } from '../../../db/schema/index.ts';
import { ProblemError } from '../../api/errors.ts';
import { PROBLEM } from '../../api/problem-codes.ts';
import type { AuditEntry } from '../../audit/audit-log.ts';
import type { Actor } from '../../policy/types.ts';
import { sqlState } from '../../scheduling/sql-state.ts';
import {
  contentKey,
  resolveContent,
  type EncounterContent,
  type ParsedEncounterContent,
} from './encounter-content.ts';
import { etagOf, noSuchEncounter, type EncounterRow, type RecordsContext } from './deps.ts';

export type DraftView = {
  encounterId: string;
  appointmentId: string;
  status: 'draft' | 'finalised';
  version: number;
  revision: number;
  etag: string;
  content: EncounterContent;
  updatedAt: Date;
  finalisedAt: Date | null;
};

const UNIQUE_VIOLATION = '23505';
/** Appointments that never took place get no clinical write-up. */
const NO_ENCOUNTER: readonly string[] = ['cancelled', 'no_show'];

/**
 * The doctor's working copy of an appointment's encounter, saved as they type. Last write wins,
 * but only over the revision the writer saw (If-Match): a second tab holding an older revision
 * gets 409 instead of silently replacing what the first one saved. A retried save (same content
 * after a lost response) is recognised and answered as the success it was.
 */
export class EncounterDrafts {
  constructor(private readonly ctx: RecordsContext) {}

  async get(actor: Actor, appointmentId: string): Promise<DraftView> {
    const { resource } = await this.ctx.encounterFacts(appointmentId);
    const { entry } = await this.ctx.deps.policy.requireDeferred(actor, 'encounter.draft.read', resource);
    const row = await this.ctx.audited([entry], (tx) => this.ctx.draftRow(tx, appointmentId));
    if (!row) throw new ProblemError(404, PROBLEM.notFound, 'no encounter draft for this appointment yet');
    return this.#view(row);
  }

  /**
   * Creates (no If-Match, no draft yet) or replaces the draft. `ifMatch` is the revision the
   * client based its change on: null when the header named none of ours, undefined when absent.
   */
  async save(
    actor: Actor,
    appointmentId: string,
    input: ParsedEncounterContent,
    ifMatch: number | null | undefined,
  ): Promise<{ view: DraftView; created: boolean }> {
    const { appointment, resource } = await this.ctx.encounterFacts(appointmentId);
    const { entry } = await this.ctx.deps.policy.requireDeferred(actor, 'encounter.draft.write', resource);
    if (NO_ENCOUNTER.includes(appointment.status))
      throw new ProblemError(409, PROBLEM.invalidTransition, `the appointment is ${appointment.status}`);
    const content = await resolveContent(this.ctx.deps.db, input);
    const current = await this.ctx.draftRow(this.ctx.deps.db, appointmentId);
    const saved = (row: EncounterRow) =>
      this.ctx.deps.audit.entry({
        action: 'encounter.draft_saved',
        outcome: 'allowed',
        resourceType: 'encounter',
        resourceId: row.id,
        patientId: row.patientId,
        clinicId: row.clinicId,
      });

    if (!current) {
      if (ifMatch !== undefined) throw stale('there is no draft of that revision');
      const id = randomUUID();
      const sealedContent = await this.ctx.content.seal(appointment.patientId, id, content);
      const now = this.ctx.deps.now();
      try {
        const row = await this.ctx.deps.db.transaction(async (tx) => {
          const [row] = await tx
            .insert(encounters)
            .values({
              id,
              appointmentId,
              clinicId: appointment.clinicId,
              patientId: appointment.patientId,
              authorId: actor.userId,
              version: 1,
              status: 'draft',
              revision: 1,
              sealedContent,
              createdAt: now,
              updatedAt: now,
            })
            .returning();
          await this.ctx.deps.audit.appendWithin(
            tx,
            [entry, saved(row!)].filter((e) => !!e),
          );
          return row!;
        });
        return { view: await this.#view(row, content), created: true };
      } catch (err) {
        // Two tabs created the first draft at once: the loser's save is a retry or a conflict.
        if (sqlState(err) !== UNIQUE_VIOLATION) throw err;
        return { view: await this.#retryOrConflict(appointmentId, content, entry), created: false };
      }
    }

    if (current.status === 'finalised') throw finalised();
    if (ifMatch === undefined)
      throw new ProblemError(
        428,
        PROBLEM.preconditionRequired,
        `the draft exists: send If-Match with its ETag (now ${etagOf(current.revision)})`,
      );
    if (ifMatch !== current.revision)
      return { view: await this.#retryOrConflict(appointmentId, content, entry), created: false };

    const sealedContent = await this.ctx.content.seal(current.patientId, current.id, content);
    const row = await this.ctx.deps.db.transaction(async (tx) => {
      // Conditional on the revision we compared: of two saves based on it, one wins, one retries.
      const [row] = await tx
        .update(encounters)
        .set({ sealedContent, revision: current.revision + 1, updatedAt: this.ctx.deps.now() })
        .where(
          and(
            eq(encounters.id, current.id),
            eq(encounters.revision, current.revision),
            eq(encounters.status, 'draft'),
          ),
        )
        .returning();
      if (row)
        await this.ctx.deps.audit.appendWithin(
          tx,
          [entry, saved(row)].filter((e) => !!e),
        );
      return row;
    });
    if (!row) return { view: await this.#retryOrConflict(appointmentId, content, entry), created: false };
    return { view: await this.#view(row, content), created: false };
  }

  /** The stored draft already holds exactly this content (a retried save): success; anything else is a conflict. */
  async #retryOrConflict(
    appointmentId: string,
    content: EncounterContent,
    decision: AuditEntry | undefined,
  ): Promise<DraftView> {
    const row = await this.ctx.draftRow(this.ctx.deps.db, appointmentId);
    if (!row) throw noSuchEncounter();
    if (row.status === 'finalised') throw finalised();
    const stored = await this.ctx.content.open(row.patientId, row.id, row.sealedContent);
    if (contentKey(stored) !== contentKey(content))
      throw stale(
        `the draft changed meanwhile (now ${etagOf(row.revision)}): reload it and apply your change`,
      );
    if (decision) await this.ctx.deps.audit.append(decision);
    return this.#view(row, stored);
  }

  async #view(row: EncounterRow, content?: EncounterContent): Promise<DraftView> {
    return {
      encounterId: row.id,
      appointmentId: row.appointmentId,
      status: row.status,
      version: row.version,
      revision: row.revision,
      etag: etagOf(row.revision),
      content: content ?? (await this.ctx.content.open(row.patientId, row.id, row.sealedContent)),
      updatedAt: row.updatedAt,
      finalisedAt: row.finalisedAt,
    };
  }
}

const stale = (detail: string) => new ProblemError(409, PROBLEM.conflict, detail);
export const finalised = () =>
  new ProblemError(
    409,
    PROBLEM.encounterFinalised,
    'the encounter is finalised: it is not edited again; amend it instead',
  );
