import type { ClientMediaParameters, Peer, RoomCloseReason } from '../sfu/index.ts';
import type { HubRoom, RoomMember } from './hub-room.ts';
import type { ClientStats, JoinClaims, Notifications, Permission } from './protocol/index.ts';
import type { Session } from './session.ts';
import { SignalingError } from './signaling-error.ts';

export type MemberStatus = 'new' | 'waiting' | 'admitted';

/**
 * One identity's place in one room: whether it waits or is in, its SFU peer, what its device can
 * receive and what its client reports about its link. It reaches the client through its session;
 * when the session ends, it leaves the room. Handlers change it only through these methods.
 */
export class Member implements RoomMember {
  #status: MemberStatus = 'new';
  #hubRoom: HubRoom | undefined;
  #peer: Peer | undefined;
  #rtpCapabilities: ClientMediaParameters | undefined;
  #clientStats: ClientStats | undefined;

  constructor(readonly session: Session) {
    session.onEnded(() => this.#leaveRoom());
  }

  get claims(): JoinClaims {
    return this.session.claims;
  }
  get peerId() {
    return this.claims.sub;
  }
  get role() {
    return this.claims.role;
  }
  get displayName() {
    return this.claims.name;
  }
  get roomCapacity() {
    return this.claims.cap;
  }
  get status() {
    return this.#status;
  }
  get hubRoom() {
    return this.#hubRoom;
  }
  get canSubscribe() {
    return this.may('subscribe');
  }
  get canAdmit() {
    return this.may('admit');
  }
  /** What the participant's own client last reported about its connection. */
  get clientStats() {
    return this.#clientStats;
  }

  may(permission: Permission) {
    return this.claims.perms.includes(permission);
  }

  /** Knocks (or, as a host, enters): the room decides. Takes over from an older connection of the same identity. */
  enter(
    hubRoom: HubRoom,
    rtpCapabilities: ClientMediaParameters,
    waitingSince?: Date,
  ): 'admitted' | 'waiting' {
    if (this.#status !== 'new') throw new SignalingError('already_joined', 'already joined');
    const previous = hubRoom.current(this.peerId);
    if (previous && previous !== this) previous.replaced();
    this.#rtpCapabilities = rtpCapabilities;
    this.#hubRoom = hubRoom;
    try {
      this.#status = hubRoom.enter(this, waitingSince);
    } catch (err) {
      this.#hubRoom = undefined;
      throw err;
    }
    this.session.markJoined();
    return this.#status;
  }

  /** An admitted member's SFU peer and room; waiting members have neither. */
  media(): { peer: Peer; hubRoom: HubRoom } {
    if (this.#status === 'waiting')
      throw new SignalingError('not_admitted', 'wait until the host admits you');
    if (!this.#peer || !this.#hubRoom || this.#peer.closed)
      throw new SignalingError('not_joined', 'join the room first');
    return { peer: this.#peer, hubRoom: this.#hubRoom };
  }

  /** The room of an admitted member who may admit or deny others. */
  hostOf(): HubRoom {
    if (!this.#hubRoom || this.#status !== 'admitted')
      throw new SignalingError('not_joined', 'join the room first');
    if (!this.canAdmit) throw new SignalingError('forbidden', 'only a host can admit or deny');
    return this.#hubRoom;
  }

  reportStats(stats: ClientStats) {
    this.media();
    this.#clientStats = stats;
  }

  leave() {
    if (this.#status === 'new') throw new SignalingError('not_joined', 'join the room first');
    this.session.end();
  }

  notify<N extends keyof Notifications>(method: N, data: Notifications[N], dataJson?: string) {
    this.session.notify(method, data, dataJson);
  }

  attachPeer(peer: Peer) {
    this.#peer = peer;
    peer.setRtpCapabilities(this.#rtpCapabilities);
    const wasWaiting = this.#status === 'waiting';
    this.#status = 'admitted';
    if (wasWaiting && this.#hubRoom) this.notify('admitted', this.#hubRoom.state(this.peerId));
    peer.on('consumerClosed', (consumerId) => this.notify('consumerClosed', { consumerId }));
    peer.on('consumerLayersChanged', (consumerId, layers) =>
      this.notify('consumerLayersChanged', {
        consumerId,
        spatialLayer: layers?.spatialLayer ?? null,
        temporalLayer: layers?.temporalLayer ?? null,
      }),
    );
  }

  roomClosed(reason: RoomCloseReason) {
    this.#hubRoom = undefined;
    this.#peer = undefined;
    this.notify('roomClosed', { reason });
    this.session.close(reason === 'ended_by_host' ? 'ended_by_host' : 'room_closed');
  }

  denied() {
    this.#hubRoom = undefined;
    this.notify('denied', { reason: 'denied' });
    this.session.close('denied');
  }

  /** A host removed this participant: closed for good, not kept for resumption. */
  removedByHost() {
    this.session.close('removed_by_host');
  }

  /** Another connection joined with the same identity: this one yields. */
  replaced() {
    this.session.close('duplicate_identity');
  }

  #leaveRoom() {
    const hubRoom = this.#hubRoom;
    this.#hubRoom = undefined;
    this.#peer = undefined;
    hubRoom?.remove(this);
  }
}
