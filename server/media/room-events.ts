import { z } from 'zod';

const id = z.string().min(1).max(128);
const at = z.string().max(40);

/** Room lifecycle as the rest of the system hears it (audit trails, dashboards, other nodes). */
export const roomEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('room_started'), roomId: id, nodeId: id, at }),
  z.object({ type: z.literal('participant_joined'), roomId: id, peerId: id, role: z.string().max(32), at }),
  z.object({ type: z.literal('participant_left'), roomId: id, peerId: id, at }),
  z.object({ type: z.literal('room_ended'), roomId: id, reason: z.string().max(64), at }),
]);
export type RoomEvent = z.infer<typeof roomEventSchema>;
