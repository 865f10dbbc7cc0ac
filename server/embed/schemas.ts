import { z } from 'zod';
import { idSchema, text } from '../api/validation.ts';
import { API_KEY_SCOPES } from './api-keys.ts';
import { originSchema } from './origins.ts';

export const clinicParam = z.object({ clinicId: idSchema });
export const keyParam = z.object({ clinicId: idSchema, keyId: idSchema });

export const createKeyBody = z.object({
  label: text({ min: 1, max: 80 }),
  scopes: z
    .array(z.enum(API_KEY_SCOPES, { message: `must be one of ${API_KEY_SCOPES.join(', ')}` }))
    .min(1, 'name at least one scope')
    .default(['widget:sessions']),
});

export const settingsBody = z.object({
  allowedOrigins: z.array(originSchema).max(20, 'at most 20 origins'),
  accentColor: z
    .string()
    .regex(/^#[0-9a-fA-F]{6}$/, 'must be a colour like #0a7d5c')
    .nullable()
    .default(null),
  logoText: text({ min: 1, max: 40 }).nullable().default(null),
});

/**
 * The clinic's own patient identifier: opaque to CareCall, kept only as an HMAC. Printable ASCII
 * without spaces, so it cannot smuggle anything into logs (it is never logged anyway).
 */
export const sessionBody = z.object({
  externalPatientId: z
    .string({ message: 'must be a string' })
    .min(1, 'required')
    .max(128, 'must be at most 128 characters')
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'),
  appointmentId: idSchema.optional(),
});

export const joinBody = z.object({ token: z.string().min(1).max(4096) });
