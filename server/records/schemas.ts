import { z } from 'zod';
import { idSchema, text } from '../api/validation.ts';
import { encounterContentSchema } from './encounters/encounter-content.ts';

export const patientParam = z.object({ patientId: idSchema });
export const noteBody = z.object({
  body: text({ min: 1, max: 20_000, multiline: true, tooLong: 'too long' }),
});
export const breakGlassBody = z.object({
  reason: text({ min: 10, max: 500, multiline: true, tooShort: 'give a reason of at least 10 characters' }),
});

export const appointmentParam = z.object({ appointmentId: idSchema });
export const encounterParam = z.object({ encounterId: idSchema });
export const documentParam = z.object({ documentId: idSchema });
export { encounterContentSchema as encounterDraftBody } from './encounters/encounter-content.ts';
export const amendmentBody = z
  .object({
    reason: text({ min: 10, max: 500, multiline: true, tooShort: 'give a reason of at least 10 characters' }),
    /** The version being amended (its id), so that two amendments of one version cannot both land. */
    amends: idSchema.optional(),
    content: encounterContentSchema,
  })
  .strict();
