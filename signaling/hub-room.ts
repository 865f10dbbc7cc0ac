import type { types } from 'mediasoup';
import type { Peer } from '../sfu/peer.ts';
import type { Room, RoomCloseReason } from '../sfu/room.ts';
import type { Notifications, ProducerInfo } from './protocol/index.ts';

/** What a HubRoom needs from a connected session; sessions implement it. */
export interface RoomMember {
  readonly peerId: string;
  readonly role: string;
  readonly displayName: string | undefined;
  readonly canSubscribe: boolean;
  notify<N extends keyof Notifications>(method: N, data: Notifications[N]): void;
  /** The room went away under the member (ended, worker died, shutdown). */
  roomClosed(reason: RoomCloseReason): void;
}

export function producerInfo(peerId: string, producer: types.Producer): ProducerInfo {
  return { peerId, producerId: producer.id, kind: producer.kind, source: String(producer.appData.source ?? 'webcam') };
}

/** An SFU Room plus the signaling members in it: fans room events out as notifications. */
export class HubRoom {
  readonly members = new Map<string, RoomMember>();
  #emptyTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly room: Room,
    private readonly emptyTimeoutMs: number,
  ) {
    room.on('newProducer', (peer, producer) => this.#broadcast(peer.id, 'newProducer', producerInfo(peer.id, producer), true));
    room.on('peerClosed', (peer) => this.#onPeerClosed(peer));
    room.on('close', (reason) => {
      clearTimeout(this.#emptyTimer);
      const members = [...this.members.values()];
      this.members.clear();
      for (const m of members) m.roomClosed(reason);
    });
    this.#scheduleEmptyClose();
  }

  get id() {
    return this.room.id;
  }

  /** Adds a member and its SFU peer; an existing member with the same id must be removed first. */
  add(member: RoomMember): Peer {
    const peer = this.room.addPeer(member.peerId);
    this.members.set(member.peerId, member);
    clearTimeout(this.#emptyTimer);
    this.#broadcast(member.peerId, 'peerJoined', {
      peerId: member.peerId,
      role: member.role,
      displayName: member.displayName,
    });
    return peer;
  }

  /** Removes a member only if it is still the current one for its id (not a replacement). */
  remove(member: RoomMember) {
    if (this.members.get(member.peerId) !== member) return;
    this.members.delete(member.peerId);
    this.room.peers.get(member.peerId)?.close();
  }

  #onPeerClosed(peer: Peer) {
    this.#broadcast(peer.id, 'peerLeft', { peerId: peer.id });
    this.#scheduleEmptyClose();
  }

  #scheduleEmptyClose() {
    if (this.room.peers.size > 0 || this.room.closed) return;
    clearTimeout(this.#emptyTimer);
    this.#emptyTimer = setTimeout(() => {
      if (this.room.peers.size === 0) this.room.close('empty');
    }, this.emptyTimeoutMs);
    this.#emptyTimer.unref();
  }

  #broadcast<N extends keyof Notifications>(exceptPeerId: string, method: N, data: Notifications[N], subscribersOnly = false) {
    for (const m of this.members.values()) {
      if (m.peerId === exceptPeerId || (subscribersOnly && !m.canSubscribe)) continue;
      m.notify(method, data);
    }
  }
}
