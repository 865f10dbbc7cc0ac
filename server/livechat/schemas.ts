import { z } from 'zod';
import { OPERATOR_STATUSES, ROUTING_MODES } from '../../db/schema/index.ts';
import { idSchema } from '../api/validation.ts';

// Message text is checked by chat (messageBytes), as on every path; here only its type and a gross bound.
const message = z.object({ id: idSchema, body: z.string({ message: 'must be text' }).max(1_000_000) });
const department = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, { message: 'lower-case letters, digits, - and _ (at most 40)' });

export const chatParam = z.object({ conversationId: idSchema });
export const clinicParam = z.object({ clinicId: idSchema });
export const cannedParam = z.object({ clinicId: idSchema, replyId: idSchema });

export const startBody = z.object({ clinicId: idSchema, department: department.optional(), message });
export const transferBody = z.object({ toUserId: idSchema, note: message.optional() });
export const closeBody = z.object({
  resolution: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, { message: 'a tag: lower-case letters, digits, - and _' }),
  /** The patient asked for the transcript by e-mail. */
  emailTranscript: z.boolean().optional(),
});
export const noteBody = message;
export const cannedSendBody = z.object({ replyId: idSchema, id: idSchema });
export const presenceBody = z.object({
  status: z.enum(OPERATOR_STATUSES),
  capacity: z.number().int().min(0).max(50).optional(),
  department: department.nullable().optional(),
});
export const settingsBody = z.object({
  routingMode: z.enum(ROUTING_MODES),
  noAnswerSeconds: z.number().int().min(10).max(3600),
});
export const cannedBody = z.object({
  shortcut: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, { message: 'lower-case letters, digits, - and _' }),
  body: z.string().min(1).max(4000),
});
