import type { HandlersFor } from './handler-table.ts';
import { GrantRevokedError } from './join-grants.ts';
import type { WaitingRoomMethod } from './protocol/index.ts';
import { SignalingError } from './signaling-error.ts';

/** Entering the room (or its waiting room), admission by a host, and leaving. */
export const waitingRoomHandlers: HandlersFor<WaitingRoomMethod> = {
  async join({ member, deps }, { rtpCapabilities }) {
    if (member.status !== 'new') throw new SignalingError('already_joined', 'already joined');
    const { hub, grants } = deps;
    // Before knocking or entering: the token may outlive what it was minted for.
    const revoked = await grants?.check(member.claims);
    if (revoked) throw new GrantRevokedError(revoked);
    const hubRoom = await hub.getOrCreate(member.claims.room);
    if (hubRoom.moderation.isRemoved(member.peerId))
      throw new SignalingError('removed_by_host', 'a host removed you from this consultation');
    // A knock goes on from the first one, even if that was on a node that has died since.
    const since = member.canAdmit ? undefined : await hub.waitingSince(hubRoom.id, member.peerId);
    // Revoked (or left) while the room was being prepared: do not enter it any more.
    if (member.session.ended) throw new SignalingError('room_closed', 'the session ended');
    const status = member.enter(hubRoom, rtpCapabilities, since);
    const iceServers = deps.iceServersFor?.(member.peerId) ?? [];
    return {
      peerId: member.peerId,
      status,
      resumeKey: member.session.resumeKey,
      iceServers,
      ...hubRoom.state(member.peerId),
    };
  },

  async admit({ member }, { peerId }) {
    member.hostOf().admit(peerId);
    return {};
  },

  async admitAll({ member }) {
    return { admitted: member.hostOf().admitAll() };
  },

  async deny({ member }, { peerId }) {
    member.hostOf().deny(peerId);
    return {};
  },

  async leave({ member }) {
    member.leave();
    return {};
  },
};
