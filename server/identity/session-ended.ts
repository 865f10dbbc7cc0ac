import { z } from 'zod';

/**
 * On the bus to every node: a sign-in session (or every session of an account) stopped standing
 * for anyone, so the user sockets it opened close now rather than at their next check.
 */
export const sessionEndedSchema = z
  .object({
    sessionId: z.string().uuid().optional(),
    userId: z.string().uuid().optional(),
    reason: z.enum(['session_revoked', 'account_disabled']),
  })
  .refine((m) => m.sessionId !== undefined || m.userId !== undefined, { message: 'session or user' });
export type SessionEnded = z.infer<typeof sessionEndedSchema>;
