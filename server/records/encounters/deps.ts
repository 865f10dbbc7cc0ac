import { and, eq } from 'drizzle-orm';
import type { Db, Tx } from '../../../db/client.ts';
import { encounters, type AppointmentStatus } from '../../../db/schema/index.ts';
import { ProblemError } from '../../api/errors.ts';
import { PROBLEM } from '../../api/problem-codes.ts';
import type { AuditEntry, AuditLog } from '../../audit/audit-log.ts';
import type { FileCipher, MessageSealer } from '../../crypto/index.ts';
import type { Policy } from '../../policy/policy.ts';
import type { Resource } from '../../policy/types.ts';
import { appointmentResource, type AppointmentRow } from '../../scheduling/appointment-facts.ts';
import type { BlobStore } from '../../storage/blob-store.ts';
import type { PdfFonts } from '../pdf/fonts.ts';
import type { DeploymentCa } from '../signing/ca.ts';
import { ContentSealer } from './encounter-content.ts';

/** Each step of a finalisation (or amendment), in order; the seam the all-or-nothing tests fail at. */
export const FINALISE_STEPS = [
  'sign_pdf',
  'store_pdf',
  'encounter',
  'conditions',
  'document',
  'chat_files',
  'appointment',
  'outbox',
  'audit',
] as const;
export type FinaliseStep = (typeof FINALISE_STEPS)[number];

/** What signs summaries: loaded on first use (a node that never finalises never reads the CA or fonts). */
export type SummarySigning = { ca: DeploymentCa; fonts: PdfFonts };

export type ClinicalRecordDeps = {
  db: Db;
  policy: Policy;
  audit: AuditLog;
  sealer: MessageSealer;
  cipher: FileCipher;
  blobs: BlobStore;
  signing: () => Promise<SummarySigning>;
  /** Base URL printed in summaries as where to check their signature ('' = none). */
  publicUrl: () => string;
  now: () => Date;
  /** Told after an appointment moved to completed (join grants end with it). */
  onStatusChange?: (appointmentId: string, to: AppointmentStatus) => unknown;
  /** Called before each step of a finalisation; a throw there aborts it (tests prove nothing stays behind). */
  beforeStep?: (step: FinaliseStep) => void | Promise<void>;
};

export type EncounterResource = Extract<Resource, { type: 'encounter' }>;
export type EncounterRow = typeof encounters.$inferSelect;

/** The shared parts every records operation uses. */
export class RecordsContext {
  readonly content: ContentSealer;
  constructor(readonly deps: ClinicalRecordDeps) {
    this.content = new ContentSealer(deps.sealer);
  }

  /** The appointment and its encounter's policy facts; an unknown appointment is 404, as a hidden one. */
  async encounterFacts(
    appointmentId: string,
  ): Promise<{ appointment: AppointmentRow; resource: EncounterResource }> {
    let found;
    try {
      found = await appointmentResource(this.deps.db, appointmentId);
    } catch (err) {
      if (err instanceof ProblemError && err.code === PROBLEM.notFound) throw noSuchEncounter();
      throw err;
    }
    const { row, resource } = found;
    return {
      appointment: row,
      resource: {
        type: 'encounter',
        appointmentId,
        clinicId: row.clinicId,
        doctorId: row.doctorId,
        patient: resource.patient,
      },
    };
  }

  /** Every version of an appointment's encounter, oldest first. */
  versions(db: Db | Tx, appointmentId: string): Promise<EncounterRow[]> {
    return db
      .select()
      .from(encounters)
      .where(eq(encounters.appointmentId, appointmentId))
      .orderBy(encounters.version);
  }

  async draftRow(db: Db | Tx, appointmentId: string): Promise<EncounterRow | undefined> {
    const [row] = await db
      .select()
      .from(encounters)
      .where(and(eq(encounters.appointmentId, appointmentId), eq(encounters.version, 1)));
    return row;
  }

  /** Work and its audit entries in one transaction; the entries last, so the chain's lock is held briefly. */
  audited<T>(entries: readonly (AuditEntry | undefined)[], work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.deps.db.transaction(async (tx) => {
      const result = await work(tx);
      await this.deps.audit.appendWithin(
        tx,
        entries.filter((e): e is AuditEntry => !!e),
      );
      return result;
    });
  }

  async step(step: FinaliseStep): Promise<void> {
    await this.deps.beforeStep?.(step);
  }
}

export const noSuchEncounter = () => new ProblemError(404, PROBLEM.notFound, 'no such encounter');

/** The draft's ETag: its revision, quoted as HTTP wants it. */
export const etagOf = (revision: number) => `"r${revision}"`;
/** The revision an If-Match names, or null when it names none of ours (then it cannot match). */
export function revisionOf(ifMatch: string): number | null {
  const m = /^(?:W\/)?"r([1-9][0-9]{0,8})"$/.exec(ifMatch.trim());
  return m ? Number(m[1]) : null;
}
