import type { Actor } from '../../policy/types.ts';
import { RecordsContext, type ClinicalRecordDeps, type SummarySigning } from './deps.ts';
import { EncounterDrafts } from './drafts.ts';
import type { ParsedEncounterContent } from './encounter-content.ts';
import { EncounterFinaliser } from './finalise.ts';
import { RecordReader } from './record-reader.ts';
import { SummaryVerification } from './verification.ts';

/**
 * The clinical record's services (encounters, their finalisation and amendments, the record read,
 * document downloads, the public verification), reached per actor like PatientRecords: each
 * operation decides through the policy and audits in the transaction that does the work. The FHIR
 * layer reads encounters, conditions and documents through forActor() as well.
 */
export class ClinicalRecords {
  readonly #ctx: RecordsContext;
  readonly drafts: EncounterDrafts;
  readonly finaliser: EncounterFinaliser;
  readonly reader: RecordReader;
  readonly verification: SummaryVerification;

  constructor(deps: ClinicalRecordDeps) {
    this.#ctx = new RecordsContext(deps);
    this.drafts = new EncounterDrafts(this.#ctx);
    this.finaliser = new EncounterFinaliser(this.#ctx);
    this.reader = new RecordReader(this.#ctx);
    this.verification = new SummaryVerification(this.#ctx);
  }

  forActor(actor: Actor) {
    return {
      draft: (appointmentId: string) => this.drafts.get(actor, appointmentId),
      saveDraft: (
        appointmentId: string,
        content: ParsedEncounterContent,
        ifMatch: number | null | undefined,
      ) => this.drafts.save(actor, appointmentId, content, ifMatch),
      finalise: (appointmentId: string, ifMatch?: number | null) =>
        this.finaliser.finalise(actor, appointmentId, ifMatch),
      amend: (
        appointmentId: string,
        input: { reason: string; content: ParsedEncounterContent; amends?: string | undefined },
      ) => this.finaliser.amend(actor, appointmentId, input),
      record: (patientId: string) => this.reader.record(actor, patientId),
      version: (encounterId: string) => this.reader.version(actor, encounterId),
      download: (documentId: string) => this.reader.download(actor, documentId),
    };
  }

  /** Loads the CA and fonts now instead of at the first finalisation (start-up checks, load tests). */
  signing(): Promise<SummarySigning> {
    return this.#ctx.deps.signing();
  }
}

/** Runs `load` once, on first call; a failed load is retried at the next call. */
export function once<T>(load: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => {
    value ??= load().catch((err) => {
      value = undefined;
      throw err;
    });
    return value;
  };
}
