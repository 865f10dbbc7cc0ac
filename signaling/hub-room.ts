import type { Peer, Room, RoomCloseReason } from '../sfu/index.ts';
import { DeltaTracker } from './delta-tracker.ts';
import { peerQuality } from './network-quality.ts';
import {
  MAX_ROOM_PARTICIPANTS,
  type ClientStats,
  type NetworkQuality,
  type Notifications,
  type ParticipantInfo,
  type RoomState,
  type WaitingInfo,
} from './protocol/index.ts';
import { RoomModeration } from './room-moderation.ts';
import { SignalingError } from './signaling-error.ts';

/** What a HubRoom needs from a participant; the signaling Member (member.ts) implements it. */
export interface RoomMember {
  readonly peerId: string;
  readonly role: string;
  readonly displayName: string | undefined;
  readonly canSubscribe: boolean;
  /** Hosts (who may admit others) enter directly; everyone else knocks. */
  readonly canAdmit: boolean;
  readonly clientStats: ClientStats | undefined;
  /** Participants the room admits, as the member's join token says (from the consultation's type). */
  readonly roomCapacity: number | undefined;
  /** `dataJson`: `data` already serialised (room-wide notifications are serialised once). */
  notify<N extends keyof Notifications>(method: N, data: Notifications[N], dataJson?: string): void;
  /** Admitted, or the room's media was rebuilt: this is the SFU peer to use from now on. */
  attachPeer(peer: Peer): void;
  /** The room went away under the member (ended, shutdown). */
  roomClosed(reason: RoomCloseReason): void;
  denied(): void;
  /** A host removed the member: closed for good (removed_by_host). */
  removedByHost(): void;
  /** A newer connection of the same identity joined: this one yields (duplicate_identity). */
  replaced(): void;
}

/** How a HubRoom reaches its owner; the owner alone reports participants joining and leaving. */
export type HubRoomOptions = {
  emptyTimeoutMs: number;
  /** Participants per room when the join tokens do not say (tokens carry the consult type's). */
  capacity?: number | undefined;
  /** The room's worker died; the hub decides whether media can be rebuilt elsewhere. */
  onMediaLost: (hubRoom: HubRoom) => void;
  /** A member got its SFU peer (entered as a host, or admitted from the waiting room). */
  onMemberJoined: (hubRoom: HubRoom, member: RoomMember) => void;
  /** A waiting participant was admitted or denied (leaving does not end the wait: a knock again goes on with it). */
  onWaitEnded: (hubRoom: HubRoom, peerId: string) => void;
  /** An admitted member's SFU peer went away (left, removed, replaced, session expired). */
  onMemberLeft: (hubRoom: HubRoom, peerId: string) => void;
};

/**
 * An SFU Room plus the participants around it: the admitted members and the waiting room.
 * Waiting participants have no SFU peer, so they can neither send nor receive media.
 */
export class HubRoom {
  readonly members = new Map<string, RoomMember>();
  readonly waiting = new Map<string, { member: RoomMember; since: Date }>();
  readonly moderation = new RoomModeration();
  readonly #sentQuality = new DeltaTracker<NetworkQuality>();
  readonly #sentParticipants = new DeltaTracker<ParticipantInfo>();
  #room!: Room;
  #emptyTimer: NodeJS.Timeout | undefined;
  #closed = false;

  #capacity: number;

  constructor(
    room: Room,
    private readonly opts: HubRoomOptions,
  ) {
    this.#capacity = opts.capacity ?? MAX_ROOM_PARTICIPANTS;
    this.#wire(room);
    this.#scheduleEmptyClose();
  }

  get id() {
    return this.#room.id;
  }
  get room() {
    return this.#room;
  }
  get closed() {
    return this.#closed;
  }

  get capacity() {
    return this.#capacity;
  }

  /** Admits hosts at once; everyone else waits for a host, since `since` (their first knock). */
  enter(member: RoomMember, since = new Date()): 'admitted' | 'waiting' {
    clearTimeout(this.#emptyTimer);
    // The newest token carries the API's latest word on the consult type's capacity.
    if (member.roomCapacity !== undefined) this.#capacity = member.roomCapacity;
    if (member.canAdmit) {
      this.#admit(member);
      return 'admitted';
    }
    this.waiting.set(member.peerId, { member, since });
    this.#announceWaiting();
    return 'waiting';
  }

  admit(peerId: string) {
    const entry = this.waiting.get(peerId);
    if (!entry) throw new SignalingError('peer_not_found', 'nobody with that id is waiting');
    this.#admit(entry.member);
    this.waiting.delete(peerId);
    this.opts.onWaitEnded(this, peerId);
    this.#announceWaiting();
  }

  admitAll(): number {
    let admitted = 0;
    for (const [peerId, { member }] of this.waiting) {
      if (this.members.size >= this.#capacity) break;
      this.#admit(member);
      this.waiting.delete(peerId);
      this.opts.onWaitEnded(this, peerId);
      admitted++;
    }
    this.#announceWaiting();
    return admitted;
  }

  deny(peerId: string) {
    const entry = this.waiting.get(peerId);
    if (!entry) throw new SignalingError('peer_not_found', 'nobody with that id is waiting');
    this.waiting.delete(peerId);
    this.opts.onWaitEnded(this, peerId);
    this.#announceWaiting();
    entry.member.denied();
    this.#scheduleEmptyClose();
  }

  /** Removes a member only if it is still the current one for its id (not a replacement). */
  remove(member: RoomMember) {
    if (this.waiting.get(member.peerId)?.member === member) {
      this.waiting.delete(member.peerId);
      this.moderation.forget(member.peerId);
      this.#announceWaiting();
      this.#scheduleEmptyClose();
      return;
    }
    if (this.members.get(member.peerId) !== member) return;
    this.members.delete(member.peerId);
    this.#room.peers.get(member.peerId)?.close();
  }

  current(peerId: string): RoomMember | undefined {
    return this.members.get(peerId) ?? this.waiting.get(peerId)?.member;
  }

  /** What an admitted member may know of the room; a waiting one learns nothing about who is in. */
  state(forPeerId: string): RoomState {
    const me = this.members.get(forPeerId);
    if (!me) return { peers: [], producers: [], waiting: [], participants: [] };
    return {
      peers: [...this.members.values()]
        .filter((m) => m.peerId !== forPeerId)
        .map((m) => ({ peerId: m.peerId, role: m.role, displayName: m.displayName })),
      producers: me.canSubscribe ? this.#room.producersExcept(forPeerId) : [],
      waiting: me.canAdmit ? this.#waitingList() : [],
      participants: this.participants(),
    };
  }

  /** Every admitted member with role and mute state, for the participant list. */
  participants() {
    return [...this.members.values()].map((m) =>
      this.moderation.participant(m, this.#room.peers.get(m.peerId)),
    );
  }

  /** Tells each waiting participant its place in line, its wait, whether a host knows, the host's note. */
  announceWaitingStatus() {
    const hostNotified = [...this.members.values()].some((m) => m.canAdmit);
    let position = 0;
    for (const { member, since } of this.waiting.values()) {
      member.notify(
        'waitingStatus',
        this.moderation.waitingStatus(++position, this.waiting.size, since, hostNotified, member.peerId),
      );
    }
  }

  /** Pushes the link quality of the participants whose quality changed since last time. */
  publishQuality() {
    const current = [...this.members.values()].flatMap((m) => {
      const peer = this.#room.peers.get(m.peerId);
      return peer ? [peerQuality(peer.id, peer.linkScores(), m.clientStats)] : [];
    });
    const delta = this.#sentQuality.next(current);
    if (delta) this.#broadcast('', 'networkQuality', { full: false, peers: delta.rows, gone: delta.gone });
  }

  /** Moves every admitted member onto a fresh Room (another worker) and asks clients to renegotiate. */
  rebuildOn(room: Room) {
    this.#wire(room);
    for (const member of this.members.values()) {
      member.attachPeer(room.addPeer(member.peerId));
      member.notify('mediaReset', { reason: 'worker_died' });
    }
    this.announceParticipants();
  }

  /** Ends the room for good: every member and waiting participant is told. */
  closeAll(reason: RoomCloseReason) {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#emptyTimer);
    const everyone = [...this.members.values(), ...[...this.waiting.values()].map((w) => w.member)];
    this.members.clear();
    this.waiting.clear();
    if (!this.#room.closed) this.#room.close(reason);
    for (const m of everyone) m.roomClosed(reason);
  }

  #admit(member: RoomMember) {
    if (this.members.size >= this.#capacity) {
      throw new SignalingError('room_full', `a room holds at most ${this.#capacity} participants`);
    }
    const peer = this.#room.addPeer(member.peerId);
    this.members.set(member.peerId, member);
    member.attachPeer(peer);
    // The whole lists once, in the member's ordered stream: every change frame after them applies on top.
    member.notify('participants', { full: true, participants: this.participants(), gone: [] });
    member.notify('networkQuality', { full: true, peers: this.#sentQuality.rows(), gone: [] });
    this.#broadcast(member.peerId, 'peerJoined', {
      peerId: member.peerId,
      role: member.role,
      displayName: member.displayName,
    });
    this.opts.onMemberJoined(this, member);
    this.announceParticipants();
    if (member.canAdmit && this.waiting.size > 0) this.announceWaitingStatus();
  }

  #wire(room: Room) {
    this.#room = room;
    room.on('newProducer', (peer, producer) => {
      this.#broadcast(peer.id, 'newProducer', producer, true);
      this.announceParticipants();
    });
    room.on('producerClosed', () => room === this.#room && !this.#closed && this.announceParticipants());
    room.on('producerPaused', (peer, producer, paused, by) => {
      if (!paused && by === peer.id) this.moderation.resumed(peer.id, producer.source);
      this.#broadcast(peer.id, paused ? 'producerPaused' : 'producerResumed', {
        peerId: peer.id,
        producerId: producer.producerId,
        by,
      });
      this.announceParticipants();
    });
    room.on('activeSpeaker', (peerId) => this.#broadcast('', 'activeSpeaker', { peerId }));
    // A worker under part of the room died: only the members who were on it negotiate anew; the
    // others just see those members' consumers close and their new producers arrive.
    room.on('peersMoved', (peerIds) => {
      for (const peerId of peerIds) {
        const member = this.members.get(peerId);
        const peer = room.peers.get(peerId);
        if (!member || !peer) continue;
        member.attachPeer(peer);
        member.notify('mediaReset', { reason: 'worker_died' });
      }
      this.announceParticipants();
    });
    room.on('peerClosed', (peer) => {
      this.#broadcast(peer.id, 'peerLeft', { peerId: peer.id });
      this.opts.onMemberLeft(this, peer.id);
      this.announceParticipants();
      this.moderation.forget(peer.id);
      // The last host left: the waiting room is no longer being watched.
      if (this.waiting.size > 0) this.announceWaitingStatus();
      this.#scheduleEmptyClose();
    });
    room.on('close', (reason) => {
      if (this.#closed || room !== this.#room) return;
      if (reason === 'worker_died') this.opts.onMediaLost(this);
      else this.closeAll(reason);
    });
  }

  #waitingList(): WaitingInfo[] {
    return [...this.waiting.values()].map(({ member, since }) => ({
      peerId: member.peerId,
      role: member.role,
      displayName: member.displayName,
      since: since.toISOString(),
    }));
  }

  #announceWaiting() {
    const waiting = this.#waitingList();
    for (const m of this.members.values()) if (m.canAdmit) m.notify('waitingRoom', { waiting });
    this.announceWaitingStatus();
  }

  /** Tells the room which rows of the participant list changed (a member's own row included). */
  announceParticipants() {
    if (this.#closed || this.members.size === 0) return;
    const delta = this.#sentParticipants.next(this.participants());
    if (delta)
      this.#broadcast('', 'participants', { full: false, participants: delta.rows, gone: delta.gone });
  }

  #scheduleEmptyClose() {
    if (this.members.size > 0 || this.waiting.size > 0 || this.#closed) return;
    clearTimeout(this.#emptyTimer);
    this.#emptyTimer = setTimeout(() => {
      if (this.members.size === 0 && this.waiting.size === 0) this.closeAll('empty');
    }, this.opts.emptyTimeoutMs);
    this.#emptyTimer.unref();
  }

  #broadcast<N extends keyof Notifications>(
    exceptPeerId: string,
    method: N,
    data: Notifications[N],
    subscribersOnly = false,
  ) {
    let json: string | undefined;
    for (const m of this.members.values()) {
      if (m.peerId === exceptPeerId || (subscribersOnly && !m.canSubscribe)) continue;
      m.notify(method, data, (json ??= JSON.stringify(data)));
    }
  }
}
