import { z } from 'zod';
import { revocationReasons } from '../../signaling/protocol/index.ts';

/** A withdrawn join grant, as one node tells every other (the whole room, or one identity in it). */
export const revocationMessageSchema = z.object({
  room: z.string().min(1).max(64),
  sub: z.string().min(1).max(128).optional(),
  reason: z.enum(revocationReasons),
  until: z.number(),
});
export type RevocationMessage = z.infer<typeof revocationMessageSchema>;
