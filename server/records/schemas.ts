import { z } from 'zod';
import { idSchema, text } from '../api/validation.ts';

export const patientParam = z.object({ patientId: idSchema });
export const noteBody = z.object({
  body: text({ min: 1, max: 20_000, multiline: true, tooLong: 'too long' }),
});
export const breakGlassBody = z.object({
  reason: text({ min: 10, max: 500, multiline: true, tooShort: 'give a reason of at least 10 characters' }),
});
