import { z } from 'zod';
import { idSchema } from '../api/validation.ts';

// Message text is checked by the repository (messageBytes), so every path (HTTP and socket) refuses
// empty, unstorable and oversize text with the same codes; here only its type and a gross bound.
const messageText = z.string({ message: 'must be text' }).max(1_000_000, { message: 'too long' });
const seq = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const conversationParam = z.object({ conversationId: idSchema });
export const messageParam = z.object({ conversationId: idSchema, messageId: idSchema });
export const openCareThreadBody = z.object({ clinicId: idSchema, doctorId: idSchema, patientId: idSchema });
export const sendBody = z.object({ id: idSchema, body: messageText });
export const editBody = z.object({ body: messageText });
export const receiptBody = z.object({ seq });
export const messagesQuery = z
  .object({
    /** Catch-up: everything after this seq, oldest first. */
    after: seq.optional(),
    /** Catch-up: also the older messages edited or deleted after this change number. */
    changesAfter: seq.optional(),
    /** History: the page before this seq, newest first. */
    before: seq.optional(),
    limit: z.coerce.number().int().min(1).max(200).optional(),
  })
  .refine((q) => q.after === undefined || q.before === undefined, { message: 'after or before, not both' })
  .refine((q) => q.changesAfter === undefined || q.after !== undefined, {
    message: 'changesAfter goes with after',
  });
