import type { Logger } from 'pino';
import { closeCode } from '../../signaling/protocol/index.ts';
import type { Session } from '../../signaling/session.ts';
import type { ClusterHeartbeat } from './heartbeat.ts';
import type { RoomDirectory } from './room-directory.ts';
import type { SignalRelay } from './signal-relay.ts';

export type DrainDeps = {
  /** Marks the node draining (announced with its load: placement skips it from the next beat). */
  startDraining: () => void;
  heartbeat: ClusterHeartbeat;
  directory: RoomDirectory;
  relay: SignalRelay;
  sessions: () => Iterable<Session>;
  logger: Logger;
};

const count = (sessions: Iterable<Session>) => [...sessions].filter((s) => !s.ended).length;

/**
 * A node leaving on purpose: no new rooms from now on, every participant told how long it has,
 * the calls here go on until they end or the deadline passes; then the leases go and whoever is
 * still here is closed with room_moved, joins again and lands on a live node. The caller stops
 * the node afterwards.
 */
export async function drainNode(deps: DrainDeps, deadlineMs: number): Promise<{ moved: number }> {
  const { logger } = deps;
  deps.startDraining();
  await deps.heartbeat.beat();
  for (const session of deps.sessions())
    if (!session.ended) session.notify('nodeDraining', { reason: 'room_moved', deadlineMs });
  // Participants only passing through here (their rooms live elsewhere) move their sockets and keep their calls.
  deps.relay.announceDraining(deadlineMs);
  logger.info({ participants: count(deps.sessions()), deadlineMs }, 'draining: no new rooms on this node');
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline && (count(deps.sessions()) > 0 || deps.relay.relayedOut > 0))
    await new Promise((r) => setTimeout(r, 200));
  // Leases first: a participant who rejoins must find the room free to be placed elsewhere.
  await deps.directory.releaseAll();
  const moved = count(deps.sessions()) + deps.relay.relayedOut;
  for (const session of [...deps.sessions()]) session.close('room_moved');
  deps.relay.endRelayedOut(closeCode('room_moved'), 'room_moved');
  logger.info({ moved }, 'drained');
  return { moved };
}
