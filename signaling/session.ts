import type { Logger } from 'pino';
import { GrantRevokedError } from './join-grants.ts';
import {
  NOTIFICATION_BUFFER,
  RESUME_GRACE_MS,
  requestSchemas,
  type CloseReason,
  type ErrorBody,
  type JoinClaims,
  type Method,
  type NotificationFrame,
  type Notifications,
  type ServerFrame,
} from './protocol/index.ts';
import type { SignalingMetrics } from './room-lifecycle.ts';
import { toErrorBody } from './signaling-error.ts';
import { DeferredSnapshots, SNAPSHOT_DEFER_BYTES, snapshotKey } from './snapshot-notifications.ts';
import { closeWith, type SocketConnection } from './socket.ts';
import { newResumeKey } from './resume-key.ts';

export type SessionDeps = {
  metrics: SignalingMetrics;
  logger: Logger;
  resumeGraceMs?: number | undefined;
  /** A session that has not joined by then is closed (join_timeout); 0 = no deadline. */
  joinDeadlineMs?: number | undefined;
  /** Many nodes: the id of this node, carried in resume keys so any node can send a resume here. */
  nodeId?: string | undefined;
};

/** Runs one validated request for this session; features provide it (see request-handlers.ts). */
export type RequestDispatch = (method: Method, data: unknown) => Promise<unknown>;

/** Answers kept so a client that re-sends a request after a reconnect gets the same answer, once. */
const RESPONSE_CACHE = 128;
/** How long a socket may stay open without joining (JOIN_DEADLINE_SECONDS overrides it). */
export const DEFAULT_JOIN_DEADLINE_MS = 30_000;

/**
 * One client across connections, knowing nothing of rooms: the socket it is on now, resumption
 * (a dropped socket is kept for a grace period and a resuming one gets the missed notifications
 * replayed), the response cache, the one-at-a-time request queue and the join deadline. What the
 * session is for (a room today; chat or a queue later) is behind `dispatch` and `onEnded`.
 */
export class Session {
  readonly resumeKey: string;
  #connection: SocketConnection | undefined;
  #dispatch: RequestDispatch | undefined;
  #seq = 0;
  readonly #buffer: NotificationFrame[] = [];
  readonly #deferred = new DeferredSnapshots();
  /** Connections whose backlog close was already logged (a refused send repeats until the close lands). */
  readonly #overflowReported = new WeakSet<SocketConnection>();
  readonly #responses = new Map<number, string>();
  readonly #inFlight = new Set<number>();
  #queue: Promise<void> = Promise.resolve();
  #graceTimer: NodeJS.Timeout | undefined;
  #joinTimer: NodeJS.Timeout | undefined;
  #joined = false;
  #ended = false;
  readonly #endHandlers: (() => void)[] = [];

  constructor(
    readonly claims: JoinClaims,
    private readonly deps: SessionDeps,
  ) {
    this.resumeKey = newResumeKey(deps.nodeId);
    const deadline = deps.joinDeadlineMs ?? DEFAULT_JOIN_DEADLINE_MS;
    if (deadline > 0) {
      this.#joinTimer = setTimeout(() => this.#joined || this.close('join_timeout'), deadline);
      this.#joinTimer.unref();
    }
  }

  get peerId() {
    return this.claims.sub;
  }
  get ended() {
    return this.#ended;
  }
  /** Whether the client joined something worth keeping across a dropped socket. */
  get joined() {
    return this.#joined;
  }

  /** Where validated requests go; set once, before the first request can arrive. */
  serve(dispatch: RequestDispatch) {
    this.#dispatch = dispatch;
  }

  /** Called once, when the session is gone for good. */
  onEnded(handler: () => void) {
    this.#endHandlers.push(handler);
  }

  /** The client joined: from now on a dropped socket is kept for resumption, and the deadline is off. */
  markJoined() {
    this.#joined = true;
    clearTimeout(this.#joinTimer);
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
    if (resuming)
      this.#send(connection, JSON.stringify({ type: 'resumed', seq: this.#seq } satisfies ServerFrame));
    for (const frame of this.#buffer) if (frame.seq > lastSeq) this.#send(connection, JSON.stringify(frame));
    this.flushSnapshots();
    return true;
  }

  /** Sends the snapshots held back for a slow or absent socket, once it can take them. */
  flushSnapshots() {
    const connection = this.#connection;
    if (this.#deferred.size === 0 || !connection || connection.bufferedBytes > SNAPSHOT_DEFER_BYTES) return;
    for (const { method, data, dataJson } of this.#deferred.take())
      this.#emit(method, data as never, dataJson);
  }

  /** The connection went away. Unless the client left (or never joined), keep everything for a while. */
  detach(connection: SocketConnection, clientLeft: boolean) {
    if (this.#connection !== connection) return;
    this.#connection = undefined;
    if (clientLeft || !this.#joined) return this.end();
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
    if (method === 'consumerClosed')
      this.#deferred.forgetConsumer((data as Notifications['consumerClosed']).consumerId);
    this.flushSnapshots();
    const key = snapshotKey(method, data);
    const connection = this.#connection;
    if (
      key !== undefined &&
      (!connection || connection.bufferedBytes > SNAPSHOT_DEFER_BYTES || this.#deferred.size > 0)
    ) {
      if (this.#deferred.put(key, { method, data, dataJson }))
        this.deps.metrics.notificationCoalesced(method);
      return;
    }
    this.#emit(method, data, dataJson);
  }

  /** Closes the current socket with a catalogued reason and ends the session (nothing kept for resumption). */
  close(reason: CloseReason) {
    if (this.#connection) closeWith(this.#connection, reason);
    this.end();
  }

  /** Gone for good. Idempotent. */
  end() {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#graceTimer);
    clearTimeout(this.#joinTimer);
    for (const handler of this.#endHandlers) handler();
  }

  sendError(connection: SocketConnection, error: ErrorBody) {
    this.#send(connection, JSON.stringify({ type: 'error', error } satisfies ServerFrame));
  }

  respondError(id: number, error: ErrorBody) {
    this.#respond(id, { type: 'response', id, ok: false, error });
  }

  #emit<N extends keyof Notifications>(method: N, data: Notifications[N], dataJson: string | undefined) {
    const frame: NotificationFrame<N> = { type: 'notification', seq: ++this.#seq, method, data };
    this.#buffer.push(frame as NotificationFrame);
    if (this.#buffer.length > NOTIFICATION_BUFFER) this.#buffer.shift();
    if (!this.#connection) return;
    // Same text as JSON.stringify(frame), without serialising a room-wide payload once per member.
    const text =
      dataJson === undefined
        ? JSON.stringify(frame)
        : `{"type":"notification","seq":${frame.seq},"method":"${method}","data":${dataJson}}`;
    this.#send(this.#connection, text);
  }

  async #handle(id: number, method: Method, body: unknown) {
    if (this.#ended) return;
    try {
      const data = requestSchemas[method].parse(body);
      if (!this.#dispatch) throw new Error('session serves no requests');
      const result = await this.#dispatch(method, data);
      this.deps.metrics.requestDone(method, 'ok');
      this.#respond(id, { type: 'response', id, ok: true, data: result ?? {} });
    } catch (err) {
      const { body: error, unexpected } = toErrorBody(err);
      if (unexpected)
        this.deps.logger.error({ err, method, peerId: this.peerId }, 'signaling request failed');
      this.deps.metrics.requestDone(method, 'error');
      this.respondError(id, error);
      if (err instanceof GrantRevokedError) this.close(err.reason);
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
      { peerId: this.peerId, roomId: this.claims.room },
      'signaling connection closed: the client fell too far behind (send backlog limit); it may resume',
    );
  }
}
