import { z } from 'zod';
import { localDate, text } from '../../api/validation.ts';
import { ICD10_CODE_PATTERN } from '../icd10/codes-file.ts';

/**
 * What a consultation summary shows. The bounds keep the worst case within two A4 pages (tested)
 * and refuse what a PDF would carry badly: control characters, lone surrogates, unknown time zones.
 */
export const SUMMARY_LIMITS = { diagnoses: 8, recommendations: 8 } as const;

const isTimeZone = (tz: string) => {
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
};

export const summaryInputSchema = z.object({
  /** Printed in the footer and used by the verify endpoint; not PHI (a random id). */
  documentId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1–64 letters, digits, - or _'),
  clinic: z.object({ name: text({ min: 1, max: 120 }), address: text({ max: 200 }).optional() }),
  doctor: z.object({ name: text({ min: 1, max: 120 }), qualification: text({ max: 120 }).optional() }),
  patient: z.object({ name: text({ min: 1, max: 120 }), dateOfBirth: localDate().optional() }),
  consultedAt: z.date().refine((d) => !Number.isNaN(d.getTime()), 'must be a valid date'),
  /** IANA zone the date is printed in (the clinic's). */
  timeZone: z.string().refine(isTimeZone, 'must be an IANA time zone such as Europe/Oslo').default('UTC'),
  reasonForVisit: text({ max: 400, multiline: true }).optional(),
  findings: text({ max: 1000, multiline: true }).optional(),
  diagnoses: z
    .array(
      z.object({
        code: z.string().regex(ICD10_CODE_PATTERN, 'must be an ICD-10 code such as F32.A'),
        title: text({ min: 1, max: 200 }),
      }),
    )
    .min(1, 'at least one diagnosis')
    .max(SUMMARY_LIMITS.diagnoses),
  recommendations: z
    .array(text({ min: 1, max: 300, multiline: true }))
    .max(SUMMARY_LIMITS.recommendations)
    .default([]),
  followUp: text({ max: 300 }).optional(),
  /** Where a reader can check the signature (the public verify page). */
  verifyUrl: z
    .url({ protocol: /^https?$/ })
    .max(120)
    .optional(),
});

export type SummaryInput = z.input<typeof summaryInputSchema>;
export type ParsedSummary = z.output<typeof summaryInputSchema>;

export class SummaryInputError extends Error {
  constructor(readonly errors: { field: string; message: string }[]) {
    super(`invalid summary: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`);
    this.name = 'SummaryInputError';
  }
}

export function parseSummaryInput(input: SummaryInput): ParsedSummary {
  const r = summaryInputSchema.safeParse(input);
  if (!r.success)
    throw new SummaryInputError(
      r.error.issues.map((i) => ({ field: i.path.join('.') || '(input)', message: i.message })),
    );
  return r.data;
}
