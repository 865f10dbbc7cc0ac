import { z } from 'zod';
import { MAX_FRAME_BYTES } from '../../signaling/protocol/index.ts';

const link = z.string().regex(/^[A-Za-z0-9_-]{8,32}$/);
const node = z.string().min(1).max(64);

/**
 * What nodes send each other to relay one participant's signaling (one node's inbox per node):
 * the edge opens a link with the participant's join token (the owner verifies it again) or resume key, frames go
 * both ways unchanged, and either side closes the link. A draining edge says so, and the owner
 * tells the participant (the owner numbers the session's notifications, the edge cannot).
 */
export const relayMessageSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('open'), link, from: node, token: z.string().min(1).max(4096) }),
  // A client that dropped its socket and came back through another node: the session is here.
  z.object({
    t: z.literal('resume'),
    link,
    from: node,
    key: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
    lastSeq: z.number().int().nonnegative(),
  }),
  // JSON escaping can make a frame's text longer than the frame's bytes on the socket.
  z.object({ t: z.literal('frame'), link, from: node, text: z.string().max(MAX_FRAME_BYTES * 2) }),
  // The edge drains: the owner tells the participant to move its socket (nodeDraining).
  z.object({ t: z.literal('draining'), link, from: node, deadlineMs: z.number().int().nonnegative() }),
  z.object({
    t: z.literal('close'),
    link,
    from: node,
    code: z.number().int().min(1000).max(4999),
    reason: z.string().max(64),
  }),
]);
export type RelayMessage = z.infer<typeof relayMessageSchema>;
