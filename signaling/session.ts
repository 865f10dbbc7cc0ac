import type { Logger } from 'pino';
import type { ConnectionHandler, SocketConnection } from '../server/http/socket-server.ts';
import type { Peer } from '../sfu/peer.ts';
import type { RoomCloseReason } from '../sfu/room.ts';
import { handlers } from './handlers.ts';
import type { HubRoom, RoomMember } from './hub-room.ts';
import {
  CLOSE_CODE_REPLACED,
  CLOSE_CODE_ROOM_CLOSED,
  MAX_FRAME_BYTES,
  requestFrameSchema,
  requestSchemas,
  type ErrorBody,
  type JoinClaims,
  type Method,
  type Notifications,
  type Permission,
  type ServerFrame,
} from './protocol/index.ts';
import type { RoomHub } from './room-hub.ts';
import type { RoomLifecycle, SignalingMetrics } from './room-lifecycle.ts';
import { toErrorBody } from './signaling-error.ts';

export type SessionDeps = { hub: RoomHub; lifecycle: RoomLifecycle; metrics: SignalingMetrics; logger: Logger };

const decoder = new TextDecoder('utf-8', { fatal: true });

/** One signaling connection: validates frames, runs requests in order, relays notifications. */
export class Session implements RoomMember, ConnectionHandler {
  hubRoom: HubRoom | undefined;
  peer: Peer | undefined;
  #queue: Promise<void> = Promise.resolve();
  #ended = false;

  constructor(
    readonly connection: SocketConnection,
    readonly claims: JoinClaims,
    readonly deps: SessionDeps,
  ) {
    deps.metrics.connectionOpened();
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
  get canSubscribe() {
    return this.may('subscribe');
  }

  may(permission: Permission) {
    return this.claims.perms.includes(permission);
  }

  onMessage(data: ArrayBuffer | Uint8Array, isBinary: boolean) {
    if (data.byteLength > MAX_FRAME_BYTES) {
      return this.#sendError({ code: 'frame_too_large', message: `frames are limited to ${MAX_FRAME_BYTES} bytes` });
    }
    if (isBinary) return this.#sendError({ code: 'bad_frame', message: 'binary frames are not supported' });
    let json: unknown;
    try {
      json = JSON.parse(decoder.decode(data));
    } catch {
      return this.#sendError({ code: 'bad_frame', message: 'frame is not valid UTF-8 JSON' });
    }
    const frame = requestFrameSchema.safeParse(json);
    if (!frame.success) {
      const id = (json as { id?: unknown } | null)?.id;
      const error: ErrorBody = { code: 'bad_frame', message: 'expected {type:"request", id, method, data}' };
      return typeof id === 'number' ? this.#respondError(id, error) : this.#sendError(error);
    }
    const { id, method, data: body } = frame.data;
    if (!Object.hasOwn(requestSchemas, method)) {
      return this.#respondError(id, { code: 'unknown_method', message: `unknown method "${method.slice(0, 64)}"` });
    }
    // Requests run one after another: a client's connectTransport must finish before its produce.
    this.#queue = this.#queue.then(() => this.#handle(id, method as Method, body ?? {}));
  }

  onClose() {
    this.#end();
  }

  notify<N extends keyof Notifications>(method: N, data: Notifications[N]) {
    this.#send({ type: 'notification', method, data });
  }

  roomClosed(reason: RoomCloseReason) {
    this.hubRoom = undefined;
    this.peer = undefined;
    this.notify('roomClosed', { reason });
    this.connection.close(CLOSE_CODE_ROOM_CLOSED, 'room_closed');
  }

  /** Another connection joined with the same identity: this one yields. */
  replaced() {
    this.#leaveRoom();
    this.connection.close(CLOSE_CODE_REPLACED, 'duplicate_identity');
  }

  /** Client asked to leave, or its socket closed. */
  leave() {
    this.#leaveRoom();
  }

  async #handle(id: number, method: Method, body: unknown) {
    if (this.#ended) return;
    try {
      const data = requestSchemas[method].parse(body);
      const handler = handlers[method] as (s: Session, d: unknown) => Promise<unknown>;
      const result = await handler(this, data);
      this.deps.metrics.requestDone(method, 'ok');
      this.#send({ type: 'response', id, ok: true, data: result ?? {} });
    } catch (err) {
      const { body: error, unexpected } = toErrorBody(err);
      if (unexpected) this.deps.logger.error({ err, method, peerId: this.peerId }, 'signaling request failed');
      this.deps.metrics.requestDone(method, 'error');
      this.#respondError(id, error);
    }
  }

  #leaveRoom() {
    const hubRoom = this.hubRoom;
    this.hubRoom = undefined;
    this.peer = undefined;
    hubRoom?.remove(this);
  }

  #end() {
    if (this.#ended) return;
    this.#ended = true;
    this.#leaveRoom();
    this.deps.metrics.connectionClosed();
  }

  #respondError(id: number, error: ErrorBody) {
    this.#send({ type: 'response', id, ok: false, error });
  }

  #sendError(error: ErrorBody) {
    this.#send({ type: 'error', error });
  }

  #send(frame: ServerFrame) {
    this.connection.send(JSON.stringify(frame));
  }
}
