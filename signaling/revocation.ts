import { covers, type JoinGrantCheck, type Revocation } from './join-grants.ts';
import type { Session } from './session.ts';
import type { RoomHub } from './room-hub.ts';

/**
 * Closes every session a revocation covers (connected, waiting, or kept for resumption), each
 * with close code 4006 and the reason; a cancelled room is then ended. Returns how many were closed.
 */
export function revokeParticipants(
  participants: Iterable<Session>,
  hub: RoomHub,
  revocation: Revocation,
): number {
  let closed = 0;
  for (const p of [...participants]) {
    if (p.ended || !covers(revocation, p.claims)) continue;
    p.close(revocation.reason);
    closed++;
  }
  if (revocation.sub === undefined) hub.rooms.get(revocation.room)?.closeAll('ended');
  return closed;
}

/** Reasons that end a live participation; "not open" (completed, past its time) only refuses new joins. */
const ENDS_LIVE = new Set(['invitation_revoked', 'consultation_cancelled']);

/**
 * Asks again about every participant's grant and closes those that ended: a revocation whose bus
 * message was lost still takes effect within one interval. Returns how many were closed.
 */
export async function recheckParticipants(
  participants: Iterable<Session>,
  hub: RoomHub,
  grants: JoinGrantCheck,
): Promise<number> {
  const all = [...participants];
  const identities = new Map<string, Session>();
  for (const p of all) if (!p.ended) identities.set(`${p.claims.room}\n${p.claims.sub}`, p);
  let closed = 0;
  for (const p of identities.values()) {
    const reason = await grants.check(p.claims).catch(() => undefined); // a database hiccup is not a revocation
    if (!reason || !ENDS_LIVE.has(reason)) continue;
    const sub = reason === 'invitation_revoked' ? p.claims.sub : undefined;
    closed += revokeParticipants(all, hub, { room: p.claims.room, sub, reason });
  }
  return closed;
}
