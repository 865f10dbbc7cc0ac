import { and, eq, isNull } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Db } from '../../db/client.ts';
import { rooms } from '../../db/schema/index.ts';
import type { RoomLifecycle } from '../../signaling/room-lifecycle.ts';
import type { ClusterBus } from '../cluster/cluster-bus.ts';
import type { RoomDirectory } from '../cluster/room-directory.ts';
import { announceConsultationEnded } from '../webhooks/consultation-events.ts';
import type { RoomEvent } from './room-events.ts';

/** How long a first knock is remembered after the participant last knocked (it outlives a dead node). */
const WAITING_SINCE_TTL_MS = 2 * 60 * 60 * 1000;
const waitingKey = (roomId: string, peerId: string) => `waiting:${roomId}:${peerId}`;

/** Records rooms in the database, claims them in the directory and emits lifecycle events on the bus. */
export function createRoomLifecycle(
  db: Db,
  bus: ClusterBus,
  directory: RoomDirectory,
  logger: Logger,
): RoomLifecycle {
  const { nodeId } = directory;
  const emit = (event: RoomEvent) =>
    bus
      .publish('room-events', event)
      .catch((err) => logger.warn({ err, type: event.type }, 'room event not published'));
  const now = () => new Date().toISOString();
  return {
    claim: (roomId) => directory.host(roomId),
    hostedElsewhere: async (roomId) => ![undefined, nodeId].includes(await directory.owner(roomId)),
    async started(roomId) {
      await db
        .insert(rooms)
        .values({ id: roomId, nodeId })
        .onConflictDoUpdate({
          target: rooms.id,
          set: { nodeId, endedAt: null, endReason: null, startedAt: new Date() },
        });
      void emit({ type: 'room_started', roomId, nodeId, at: now() });
    },
    participantJoined: (roomId, peerId, role) =>
      void emit({ type: 'participant_joined', roomId, peerId, role, at: now() }),
    participantLeft: (roomId, peerId) => void emit({ type: 'participant_left', roomId, peerId, at: now() }),
    async waitingSince(roomId, peerId) {
      const now = Date.now();
      const kept = Number(
        await bus.transport.keepFirst(waitingKey(roomId, peerId), String(now), WAITING_SINCE_TTL_MS),
      );
      // Redis is a shared surface: anything that is not a time within this wait counts as a knock now.
      return new Date(
        Number.isSafeInteger(kept) && kept <= now && kept > now - WAITING_SINCE_TTL_MS ? kept : now,
      );
    },
    waitingEnded(roomId, peerId) {
      bus.transport
        .forget(waitingKey(roomId, peerId))
        .catch((err: Error) => logger.warn({ err: err.message, roomId }, 'waiting time not cleared'));
    },
    async ended(roomId, reason) {
      // The first end counts (a repeated end changes nothing); its webhook event commits with it.
      await db.transaction(async (tx) => {
        const [closed] = await tx
          .update(rooms)
          .set({ endedAt: new Date(), endReason: reason })
          .where(and(eq(rooms.id, roomId), isNull(rooms.endedAt)))
          .returning({ id: rooms.id });
        if (closed) await announceConsultationEnded(tx, roomId, reason);
      });
      await directory.unhost(roomId);
      await emit({ type: 'room_ended', roomId, reason, at: now() });
    },
  };
}
