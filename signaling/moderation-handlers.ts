import type { HubRoom } from './hub-room.ts';
import type { HandlersFor } from './handler-table.ts';
import type { Member } from './member.ts';
import type { ModerationMethod, Permission } from './protocol/index.ts';
import { SignalingError } from './signaling-error.ts';

/** A host request: the caller is admitted (not waiting) and holds the permission. */
function hostRoom(p: Member, permission: Permission): HubRoom {
  if (p.status === 'waiting') throw new SignalingError('not_admitted', 'wait until the host admits you');
  if (!p.hubRoom || p.status !== 'admitted') throw new SignalingError('not_joined', 'join the room first');
  if (!p.may(permission))
    throw new SignalingError('forbidden', `only a host can do this (needs ${permission})`);
  return p.hubRoom;
}

function notSelf(p: Member, peerId: string) {
  if (peerId === p.peerId) throw new SignalingError('invalid_target', 'a host cannot do this to themselves');
}

/** An admitted participant (with its SFU peer) other than the caller. */
function admittedTarget(p: Member, hubRoom: HubRoom, peerId: string) {
  notSelf(p, peerId);
  const member = hubRoom.members.get(peerId);
  const peer = hubRoom.room.peers.get(peerId);
  if (!member || !peer) throw new SignalingError('peer_not_found', 'no such participant in this room');
  return { member, peer };
}

export const moderationHandlers: HandlersFor<ModerationMethod> = {
  async muteParticipant({ member: p }, { peerId, source }) {
    const hubRoom = hostRoom(p, 'moderate');
    const { member, peer } = admittedTarget(p, hubRoom, peerId);
    const producers = peer.producersBySource(source);
    // An audio mute over a microphone already muted changes nothing; a stopped camera is held even if it was off.
    if (source === 'mic' && producers.every((producer) => producer.paused)) return { muted: 0 };
    const { selfUnmute } = hubRoom.moderation.hostMute(peerId, source);
    // With nothing published the hold still applies (its own row in the participant list says so).
    if (producers.length === 0) hubRoom.announceParticipants();
    let muted = 0;
    for (const producer of producers) {
      if (!producer.paused) {
        await peer.setProducerPaused(producer.producerId, true, p.peerId);
        muted++;
      }
      member.notify('mutedBy', { producerId: producer.producerId, by: p.peerId, source, selfUnmute });
    }
    return { muted };
  },

  async releaseMute({ member: p }, { peerId, source }) {
    const hubRoom = hostRoom(p, 'moderate');
    const { member } = admittedTarget(p, hubRoom, peerId);
    if (hubRoom.moderation.release(peerId, source)) {
      member.notify('muteReleased', { source, by: p.peerId });
      hubRoom.announceParticipants();
    }
    return {};
  },

  async removeParticipant({ member: p }, { peerId }) {
    const hubRoom = hostRoom(p, 'moderate');
    notSelf(p, peerId);
    const member = hubRoom.current(peerId);
    if (!member) throw new SignalingError('peer_not_found', 'no such participant in this room');
    hubRoom.moderation.markRemoved(peerId);
    member.removedByHost();
    return {};
  },

  async endForEveryone({ member: p }) {
    const hubRoom = hostRoom(p, 'moderate');
    // After this answer is sent: the caller's own connection closes with everyone else's.
    setImmediate(() => hubRoom.closeAll('ended_by_host'));
    return {};
  },

  async messageWaiting({ member: p }, { peerId, text }) {
    const hubRoom = hostRoom(p, 'admit');
    if (/\p{Cc}/u.test(text))
      throw new SignalingError('invalid_request', 'the message may not contain control characters');
    const targets =
      peerId === undefined ? [...hubRoom.waiting.keys()] : hubRoom.waiting.has(peerId) ? [peerId] : [];
    if (targets.length === 0)
      throw new SignalingError(
        'peer_not_found',
        peerId ? 'nobody with that id is waiting' : 'nobody is waiting',
      );
    hubRoom.moderation.spendMessage(p.peerId);
    for (const target of targets) hubRoom.moderation.setMessage(target, text);
    hubRoom.announceWaitingStatus();
    return { delivered: targets.length };
  },
};
