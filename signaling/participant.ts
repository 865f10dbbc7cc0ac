import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { closeWith, type SocketConnection } from './socket.ts';
import type { ClientMediaParameters, Peer, RoomCloseReason } from '../sfu/index.ts';
import { handlers } from './handlers.ts';
import type { HubRoom, RoomMember } from './hub-room.ts';
import {
  NOTIFICATION_BUFFER,
  RESUME_GRACE_MS,
  requestSchemas,
  type ClientStats,
  type IceServerInfo,
  type ErrorBody,
  type JoinClaims,
  type Method,
  type NotificationFrame,
  type Notifications,
  type Permission,
  type RevocationReason,
  type ServerFrame,
} from './protocol/index.ts';
import { GrantRevokedError, type JoinGrantCheck } from './join-grants.ts';
import type { RoomHub } from './room-hub.ts';
import type { RoomLifecycle, SignalingMetrics } from './room-lifecycle.ts';
import { toErrorBody } from './signaling-error.ts';
import { DeferredSnapshots, SNAPSHOT_DEFER_BYTES, snapshotKey } from './snapshot-notifications.ts';

export type ParticipantDeps = {
  hub: RoomHub;
  lifecycle: RoomLifecycle;
  metrics: SignalingMetrics;
  logger: Logger;
  /** Called once when the participant is gone for good (left, expired, replaced, room closed). */
  onEnded: (participant: Participant) => void;
  resumeGraceMs?: number;
  /** TURN servers with credentials for this participant (empty without TURN). */
  iceServersFor?: (peerId: string) => IceServerInfo[];
  /** Whether the join token still stands for something (checked at join); none = always. */
  grants?: JoinGrantCheck | undefined;
};

/** Answers kept so a client that re-sends a request after a reconnect gets the same answer, once. */
const RESPONSE_CACHE = 128;

/**
 * One identity in one room, across connections: a dropped WebSocket leaves the participant (and
 * its media) in place for a grace period; a resuming connection gets missed notifications replayed.
 */
export class Participant implements RoomMember {
  readonly resumeKey = randomBytes(18).toString('base64url');
  status: 'new' | 'waiting' | 'admitted' = 'new';
  rtpCapabilities: ClientMediaParameters | undefined;
  /** What the participant's own client last reported about its connection. */
  clientStats: ClientStats | undefined;
  hubRoom: HubRoom | undefined;
  peer: Peer | undefined;
  #connection: SocketConnection | undefined;
  #seq = 0;
  readonly #buffer: NotificationFrame[] = [];
  readonly #deferred = new DeferredSnapshots();
  /** Connections whose backlog close was already logged (a refused send repeats until the close lands). */
  readonly #overflowReported = new WeakSet<SocketConnection>();
  readonly #responses = new Map<number, string>();
  readonly #inFlight = new Set<number>();
  #queue: Promise<void> = Promise.resolve();
  #graceTimer: NodeJS.Timeout | undefined;
  #ended = false;

  constructor(
    readonly claims: JoinClaims,
    readonly deps: ParticipantDeps,
  ) {}

  get peerId() {
    return this.claims.sub;
  }
  get role() {
    return this.claims.role;
  }
  get displayName() {
    return this.claims.name;
  }
  get canSubscribe() {
    return this.may('subscribe');
  }
  get canAdmit() {
    return this.may('admit');
  }
  get ended() {
    return this.#ended;
  }

  may(permission: Permission) {
    return this.claims.perms.includes(permission);
  }

  /**
   * Binds the first connection, or a resuming one (lastSeq given): then it gets a `resumed` frame and
   * what it missed. False if the gap is no longer buffered.
   */
  attach(connection: SocketConnection, lastSeq?: number): boolean {
    const resuming = lastSeq !== undefined;
    lastSeq ??= 0;
    const oldest = this.#buffer[0]?.seq ?? this.#seq + 1;
    if (lastSeq < this.#seq && lastSeq + 1 < oldest) return false;
    clearTimeout(this.#graceTimer);
    if (this.#connection && this.#connection !== connection) closeWith(this.#connection, 'resumed_elsewhere');
    this.#connection = connection;
    if (resuming) this.#send(connection, JSON.stringify({ type: 'resumed', seq: this.#seq } satisfies ServerFrame));
    for (const frame of this.#buffer) if (frame.seq > lastSeq) this.#send(connection, JSON.stringify(frame));
    this.flushSnapshots();
    return true;
  }

  /** Sends the snapshots held back for a slow or absent socket, once it can take them. */
  flushSnapshots() {
    const connection = this.#connection;
    if (this.#deferred.size === 0 || !connection || connection.bufferedBytes > SNAPSHOT_DEFER_BYTES) return;
    for (const { method, data, dataJson } of this.#deferred.take()) this.#emit(method, data as never, dataJson);
  }

  /** The connection went away. Unless the client left, keep everything for a while. */
  detach(connection: SocketConnection, clientLeft: boolean) {
    if (this.#connection !== connection) return;
    this.#connection = undefined;
    if (clientLeft || this.status === 'new') return this.end();
    clearTimeout(this.#graceTimer);
    this.#graceTimer = setTimeout(() => this.end(), this.deps.resumeGraceMs ?? RESUME_GRACE_MS);
    this.#graceTimer.unref();
  }

  request(id: number, method: Method, body: unknown) {
    const cached = this.#responses.get(id);
    if (cached) return void (this.#connection && this.#send(this.#connection, cached));
    // A re-sent request still running: its answer goes to whichever connection is current then.
    if (this.#inFlight.has(id)) return;
    this.#inFlight.add(id);
    // Requests run one after another: a client's connectTransport must finish before its produce.
    this.#queue = this.#queue.then(() => this.#handle(id, method, body));
  }

  /** `dataJson`: `data` already serialised, when the same notification goes to a whole room. */
  notify<N extends keyof Notifications>(method: N, data: Notifications[N], dataJson?: string) {
    if (method === 'consumerClosed') this.#deferred.forgetConsumer((data as Notifications['consumerClosed']).consumerId);
    this.flushSnapshots();
    const key = snapshotKey(method, data);
    const connection = this.#connection;
    if (key !== undefined && (!connection || connection.bufferedBytes > SNAPSHOT_DEFER_BYTES || this.#deferred.size > 0)) {
      if (this.#deferred.put(key, { method, data, dataJson })) this.deps.metrics.notificationCoalesced(method);
      return;
    }
    this.#emit(method, data, dataJson);
  }

  #emit<N extends keyof Notifications>(method: N, data: Notifications[N], dataJson: string | undefined) {
    const frame: NotificationFrame<N> = { type: 'notification', seq: ++this.#seq, method, data };
    this.#buffer.push(frame as NotificationFrame);
    if (this.#buffer.length > NOTIFICATION_BUFFER) this.#buffer.shift();
    if (!this.#connection) return;
    // Same text as JSON.stringify(frame), without serialising a room-wide payload once per member.
    const text = dataJson === undefined ? JSON.stringify(frame) : `{"type":"notification","seq":${frame.seq},"method":"${method}","data":${dataJson}}`;
    this.#send(this.#connection, text);
  }

  attachPeer(peer: Peer) {
    this.peer = peer;
    peer.setRtpCapabilities(this.rtpCapabilities);
    const wasWaiting = this.status === 'waiting';
    this.status = 'admitted';
    if (wasWaiting && this.hubRoom) this.notify('admitted', this.hubRoom.state(this.peerId));
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
    this.hubRoom = undefined;
    this.peer = undefined;
    this.notify('roomClosed', { reason });
    if (this.#connection) closeWith(this.#connection, reason === 'ended_by_host' ? 'ended_by_host' : 'room_closed');
    this.end();
  }

  /** A host removed this participant: closed for good, not kept for resumption. */
  removedByHost() {
    if (this.#connection) closeWith(this.#connection, 'removed_by_host');
    this.end();
  }

  denied() {
    this.hubRoom = undefined;
    this.notify('denied', { reason: 'denied' });
    if (this.#connection) closeWith(this.#connection, 'denied');
    this.end();
  }

  /** What the join token stood for was withdrawn: closed with the reason, not kept for resumption. */
  revoke(reason: RevocationReason) {
    if (this.#connection) closeWith(this.#connection, reason);
    this.end();
  }

  /** Another connection joined with the same identity: this one yields. */
  replaced() {
    if (this.#connection) closeWith(this.#connection, 'duplicate_identity');
    this.end();
  }

  /** Gone for good: leave the room and forget the session. Idempotent. */
  end() {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#graceTimer);
    const hubRoom = this.hubRoom;
    this.hubRoom = undefined;
    this.peer = undefined;
    hubRoom?.remove(this);
    this.deps.onEnded(this);
  }

  sendError(connection: SocketConnection, error: ErrorBody) {
    this.#send(connection, JSON.stringify({ type: 'error', error } satisfies ServerFrame));
  }

  respondError(id: number, error: ErrorBody) {
    this.#respond(id, { type: 'response', id, ok: false, error });
  }

  async #handle(id: number, method: Method, body: unknown) {
    if (this.#ended) return;
    try {
      const data = requestSchemas[method].parse(body);
      const handler = handlers[method] as (p: Participant, d: unknown) => Promise<unknown>;
      const result = await handler(this, data);
      this.deps.metrics.requestDone(method, 'ok');
      this.#respond(id, { type: 'response', id, ok: true, data: result ?? {} });
    } catch (err) {
      const { body: error, unexpected } = toErrorBody(err);
      if (unexpected) this.deps.logger.error({ err, method, peerId: this.peerId }, 'signaling request failed');
      this.deps.metrics.requestDone(method, 'error');
      this.respondError(id, error);
      if (err instanceof GrantRevokedError) this.revoke(err.reason);
    }
  }

  #respond(id: number, frame: ServerFrame) {
    const text = JSON.stringify(frame);
    this.#inFlight.delete(id);
    this.#responses.set(id, text);
    if (this.#responses.size > RESPONSE_CACHE) this.#responses.delete(this.#responses.keys().next().value!);
    if (this.#connection) this.#send(this.#connection, text);
  }

  #send(connection: SocketConnection, text: string) {
    if (connection.send(text) || !connection.overflowed || this.#overflowReported.has(connection)) return;
    this.#overflowReported.add(connection);
    this.deps.metrics.slowClientClosed();
    this.deps.logger.warn(
      { peerId: this.peerId, roomId: this.hubRoom?.id },
      'signaling connection closed: the client fell too far behind (send backlog limit); it may resume',
    );
  }
}
