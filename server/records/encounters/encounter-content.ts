import { z } from 'zod';
import type { Db } from '../../../db/client.ts';
import { CONDITION_STATUSES, type ConditionStatus } from '../../../db/schema/index.ts';
import { ProblemError } from '../../api/errors.ts';
import { PROBLEM } from '../../api/problem-codes.ts';
import { localDate, text } from '../../api/validation.ts';
import { canonicalJson } from '../../audit/canonical-json.ts';
import type { MessageSealer } from '../../crypto/index.ts';
import { SUMMARY_LIMITS } from '../pdf/summary-input.ts';
import { requireIcd10 } from '../icd10/search.ts';

/**
 * What the doctor writes about an appointment. The bounds are the PDF summary's (summary-input.ts),
 * so anything a draft holds can be finalised into a summary of at most two pages.
 */
export const ENCOUNTER_LIMITS = {
  reasonForVisit: 400,
  findings: 1000,
  notes: 5000,
  diagnoses: SUMMARY_LIMITS.diagnoses,
  recommendations: SUMMARY_LIMITS.recommendations,
  recommendation: 300,
  display: 200,
  followUpNote: 200,
} as const;

/** A suggested interval as ISO 8601: P10D, P2W, P3M, P1Y. */
const INTERVAL = /^P([1-9][0-9]{0,2})([DWMY])$/;

export const encounterContentSchema = z
  .object({
    reasonForVisit: text({ max: ENCOUNTER_LIMITS.reasonForVisit, multiline: true }).optional(),
    findings: text({ max: ENCOUNTER_LIMITS.findings, multiline: true }).optional(),
    notes: text({ max: ENCOUNTER_LIMITS.notes, multiline: true }).optional(),
    diagnoses: z
      .array(
        z
          .object({
            code: z.string().min(1).max(16),
            /** The text shown for the code; the ICD-10 title when absent. */
            display: text({ min: 1, max: ENCOUNTER_LIMITS.display }).optional(),
            status: z.enum(CONDITION_STATUSES).default('active'),
          })
          .strict(),
      )
      .max(ENCOUNTER_LIMITS.diagnoses, `at most ${ENCOUNTER_LIMITS.diagnoses} diagnoses`)
      .default([]),
    recommendations: z
      .array(text({ min: 1, max: ENCOUNTER_LIMITS.recommendation, multiline: true }))
      .max(ENCOUNTER_LIMITS.recommendations, `at most ${ENCOUNTER_LIMITS.recommendations} recommendations`)
      .default([]),
    followUp: z
      .object({
        date: localDate().optional(),
        interval: z.string().regex(INTERVAL, 'must be an interval such as P10D, P2W, P3M or P1Y').optional(),
        note: text({ max: ENCOUNTER_LIMITS.followUpNote }).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export type EncounterContentInput = z.input<typeof encounterContentSchema>;
export type ParsedEncounterContent = z.output<typeof encounterContentSchema>;
type ParsedContent = ParsedEncounterContent;

export type Diagnosis = { code: string; display: string; title: string; status: ConditionStatus };
/** The content as stored (sealed) and returned: codes checked and in their canonical form. */
export type EncounterContent = Omit<ParsedContent, 'diagnoses'> & { diagnoses: Diagnosis[] };

/**
 * Checks every code against the loaded ICD-10 list (UnknownIcd10CodeError, 422) and writes it the
 * canonical way ("f329" becomes "F32.9"), with the list's title beside the doctor's display text.
 * A code listed twice is refused like an unknown one would be: the record would show it twice.
 */
export async function resolveContent(db: Db, input: ParsedContent): Promise<EncounterContent> {
  const diagnoses: Diagnosis[] = [];
  for (const d of input.diagnoses) {
    const hit = await requireIcd10(db, d.code);
    if (diagnoses.some((x) => x.code === hit.code)) throw new DuplicateDiagnosisError(hit.code);
    diagnoses.push({ code: hit.code, display: d.display ?? hit.title, title: hit.title, status: d.status });
  }
  return { ...input, diagnoses };
}

export class DuplicateDiagnosisError extends ProblemError {
  constructor(readonly icd10Code: string) {
    super(400, PROBLEM.invalidBody, 'request is invalid', [
      { field: 'diagnoses', message: `${icd10Code} is listed twice` },
    ]);
    this.name = 'DuplicateDiagnosisError';
  }
}

/** Same content, same string: what an idempotent retry of a save is recognised by. */
export const contentKey = (content: EncounterContent) => canonicalJson(content);

/** Every clinical text of a patient is sealed under the patient's own record key. */
export const recordScope = (patientId: string) => `patient-record:${patientId}`;

export class ContentSealer {
  constructor(private readonly sealer: MessageSealer) {}

  seal(patientId: string, encounterId: string, content: EncounterContent): Promise<Uint8Array> {
    return this.sealer.seal(recordScope(patientId), `encounter:${encounterId}`, canonicalJson(content));
  }

  async open(patientId: string, encounterId: string, sealed: Uint8Array): Promise<EncounterContent> {
    const json = await this.sealer.openText(recordScope(patientId), `encounter:${encounterId}`, sealed);
    return JSON.parse(json) as EncounterContent;
  }

  sealReason(patientId: string, encounterId: string, reason: string): Promise<Uint8Array> {
    return this.sealer.seal(recordScope(patientId), `encounter-amendment:${encounterId}`, reason);
  }

  openReason(patientId: string, encounterId: string, sealed: Uint8Array): Promise<string> {
    return this.sealer.openText(recordScope(patientId), `encounter-amendment:${encounterId}`, sealed);
  }

  sealCoding(patientId: string, conditionId: string, d: Diagnosis): Promise<Uint8Array> {
    return this.sealer.seal(
      recordScope(patientId),
      `condition:${conditionId}`,
      canonicalJson({ code: d.code, display: d.display, title: d.title }),
    );
  }

  async openCoding(
    patientId: string,
    conditionId: string,
    sealed: Uint8Array,
  ): Promise<{ code: string; display: string; title: string }> {
    return JSON.parse(await this.sealer.openText(recordScope(patientId), `condition:${conditionId}`, sealed));
  }
}

const UNIT = { D: 'day', W: 'week', M: 'month', Y: 'year' } as const;

/** The follow-up as the summary prints it: "In 2 weeks (around 14 March 2027). Bring the sleep diary." */
export function followUpText(f: EncounterContent['followUp']): string | undefined {
  if (!f || (!f.date && !f.interval && !f.note)) return undefined;
  const parts: string[] = [];
  const m = f.interval ? INTERVAL.exec(f.interval) : null;
  const when = m ? `In ${m[1]} ${UNIT[m[2] as keyof typeof UNIT]}${m[1] === '1' ? '' : 's'}` : undefined;
  const date = f.date
    ? new Intl.DateTimeFormat('en-GB', { dateStyle: 'long', timeZone: 'UTC' }).format(
        new Date(`${f.date}T00:00:00Z`),
      )
    : undefined;
  if (when && date) parts.push(`${when} (around ${date}).`);
  else if (when) parts.push(`${when}.`);
  else if (date) parts.push(`Around ${date}.`);
  if (f.note) parts.push(f.note);
  return parts.join(' ');
}
