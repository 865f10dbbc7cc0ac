import { z } from 'zod';
import { GUEST_KINDS } from '../../db/schema/index.ts';
import { idSchema, text } from '../api/validation.ts';

export const appointmentParam = z.object({ appointmentId: idSchema });
export const guestParam = z.object({ appointmentId: idSchema, guestId: idSchema });
export const guestBody = z.object({ kind: z.enum(GUEST_KINDS), displayName: text({ min: 1, max: 64 }) });
