// Constants from the files that hold them, types from the index: the protocol's zod schemas (which
// probe for eval, a CSP violation) stay out of the browser bundle; the server validates frames.
import { afterCloseCode, reasonForCode } from '../../signaling/protocol/close-reasons.ts';
import { RESUME_GRACE_MS } from '../../signaling/protocol/limits.ts';
import type { Notifications, ResponseData } from '../../signaling/protocol/index.ts';
import { ConnectionLost, SignalingClient, type SocketFactory } from './signaling-client.ts';
import { TypedEvents } from './typed-events.ts';

export type JoinResult = ResponseData['join'];

/** One listener signature per server notification, so each is subscribed to by name and typed. */
export type NotificationEvents = { [N in keyof Notifications]: (data: Notifications[N]) => void };

export type SessionEvents = {
  /** 'reconnecting' (socket lost, or a join retried), then 'resumed' (same session) or 'rejoined' (new one). */
  connection: (state: 'reconnecting' | 'resumed' | 'rejoined') => void;
  /** The session ended for good: a final close (removed, ended by host, join timeout) or a failed rejoin. */
  ended: (reason: string, err?: Error) => void;
  /** The socket was replaced through the service URL while the old one still worked (a node drains): nothing was lost. */
  moved: () => void;
};

export type SessionOptions = {
  /** ws(s)://host/ws */
  signalingUrl: string;
  token: string;
  /** Must pass the protocols on: `(url, protocols) => new WebSocket(url, protocols)` (they carry the token). */
  createSocket: SocketFactory;
};

/** What the session needs from its owner (passed down, so this never imports the room client). */
export type SessionHost = {
  /** The socket is open, before joining (first time, retry, rejoin): e.g. load the media device. */
  prepare: (signaling: SignalingClient) => Promise<void>;
  /** What the join request carries. */
  rtpCapabilities: () => unknown;
  /** The join answered; awaited before join() resolves (and before 'rejoined' is emitted). */
  joined: (result: JoinResult) => Promise<void>;
  /** The server session is gone and a new one is being made: drop what belonged to the old one. */
  sessionLost: () => void;
};

const JOIN_ATTEMPTS = 3;
/** How widely a draining node's clients spread their moves (and the first wait before moving). */
const MOVE_SPREAD_MS = 1000;
/** A move is not started this close to the deadline: the node's close comes first. */
const MOVE_MARGIN_MS = 500;

/**
 * The signaling session of one participant: the socket, the join, and keeping the session when the
 * socket drops. A drop is resumed (same server session, missed notifications replayed) within the
 * resume grace, or else the participant joins again with the token; a close the close catalogue
 * calls final ends the session without either.
 */
export class SessionClient extends TypedEvents<SessionEvents> {
  /** Server notifications by name; listeners stay attached across resumes and rejoins. */
  readonly notifications = new TypedEvents<NotificationEvents>();
  #signaling: SignalingClient | undefined;
  #resumeKey = '';
  #reconnecting = false;
  #ended = false;
  #prepared: Promise<void> | undefined;
  /** Until when a draining node keeps this socket: set while a move off that node is due. */
  #moveBefore: number | undefined;
  #moving = false;

  constructor(
    private readonly opts: SessionOptions,
    private readonly host: SessionHost,
  ) {
    super();
    this.notifications.on('nodeDraining', ({ deadlineMs }) => {
      this.#moveBefore = Date.now() + deadlineMs;
      void this.#moveOff();
    });
  }

  get signaling(): SignalingClient {
    if (!this.#signaling) throw new ConnectionLost('not connected yet');
    return this.#signaling;
  }
  /** Resuming or rejoining after a lost socket. */
  get reconnecting() {
    return this.#reconnecting;
  }
  get ended() {
    return this.#ended;
  }

  /** Connects and lets the host prepare (idempotent until it fails). */
  prepare(): Promise<void> {
    this.#prepared ??= this.#connect().catch((err: unknown) => {
      this.#prepared = undefined;
      throw err;
    });
    return this.#prepared;
  }

  /**
   * Connects and joins; resolves once the host handled the answer. A connection lost before the
   * join answered (so there is no session to resume) is retried from the start.
   */
  async join(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.prepare();
        await this.#join();
        return;
      } catch (err) {
        if (!(err instanceof ConnectionLost) || this.#resumeKey || attempt >= JOIN_ATTEMPTS) throw err;
        this.#prepared = undefined;
        this.emit('connection', 'reconnecting');
        await sleep(250 * attempt);
      }
    }
  }

  /** Leaving for good: the server drops the session instead of keeping it for resumption. */
  leave() {
    if (this.#ended) return;
    this.#ended = true;
    this.#signaling?.close();
  }

  /** The owner ended the call for another reason (denied, room closed): nothing is resumed any more. */
  end(reason: string) {
    this.#ended = true;
    this.#signaling?.end(reason);
  }

  async #connect() {
    const signaling = await SignalingClient.connect(
      this.opts.signalingUrl,
      this.opts.token,
      this.opts.createSocket,
    );
    this.#signaling = signaling;
    signaling.on('notification', (method, data) => {
      if (signaling !== this.#signaling) return;
      (this.notifications.emit as (m: typeof method, d: typeof data) => void).call(
        this.notifications,
        method,
        data,
      );
    });
    signaling.on('close', (code, reason) => {
      if (signaling === this.#signaling) void this.#onSocketClosed(code, reason);
    });
    await this.host.prepare(signaling);
  }

  async #join() {
    const joined = await this.signaling.request('join', {
      rtpCapabilities: this.host.rtpCapabilities() as never,
    });
    this.#resumeKey = joined.resumeKey;
    await this.host.joined(joined);
    // Told to move before the join answered: there was no session to move yet.
    if (this.#moveBefore !== undefined) void this.#moveOff();
  }

  /**
   * A node on this call's path drains (SIGTERM): the session moves to a new socket through the
   * service URL (the load balancer no longer sends anyone to a draining node; a relayed resume
   * reaches the session wherever it is kept) before the old socket is let go, so neither media nor
   * signaling notices. Spread over a short random delay so a draining node's clients do not all
   * land at once, and so the load balancer has seen the node leave. A failed try is repeated while
   * the deadline allows; at the deadline the node closes the socket and the usual resume or rejoin
   * takes over.
   */
  async #moveOff() {
    if (this.#moving || !this.#resumeKey) return;
    this.#moving = true;
    try {
      for (let attempt = 0; this.#moveBefore !== undefined; attempt++) {
        const left = this.#moveBefore - Date.now();
        if (left < MOVE_MARGIN_MS) break;
        await sleep(Math.min(left - MOVE_MARGIN_MS, MOVE_SPREAD_MS * (attempt + Math.random())));
        if (this.#ended || this.#reconnecting || !this.#signaling?.connected) break;
        const result = await this.#signaling.move(
          this.opts.signalingUrl,
          this.#resumeKey,
          this.opts.createSocket,
        );
        if (result === 'resumed') {
          this.#moveBefore = undefined;
          this.emit('moved');
        }
        // Expired cannot happen to a session that answers on its socket; the deadline's close rejoins.
        if (result !== 'failed') break;
      }
    } finally {
      this.#moving = false;
      this.#moveBefore = undefined;
    }
  }

  async #onSocketClosed(code: number, reason: string) {
    if (this.#ended || this.#reconnecting) return;
    if (!this.#resumeKey) {
      // Dropped before joining: nothing to resume; join() starts over with the token.
      this.signaling.failPending(
        'connection lost before join',
        new ConnectionLost('connection lost before join'),
      );
      return;
    }
    // The close catalogue says whether this close ends the call, needs a fresh join, or can be resumed.
    const after = afterCloseCode(code);
    if (after === 'final') return this.#end(reason || (reasonForCode(code) ?? 'closed'));
    this.#reconnecting = true;
    this.emit('connection', 'reconnecting');
    try {
      if (after === 'resume' && (await this.#tryResume())) {
        this.#reconnecting = false;
        this.emit('connection', 'resumed');
        return;
      }
      await this.#rejoin();
      this.#reconnecting = false;
      this.emit('connection', 'rejoined');
    } catch (err) {
      this.#end('connection_lost', err instanceof Error ? err : new Error(String(err)));
    } finally {
      this.#reconnecting = false;
    }
  }

  /** Same session, same transports: only the socket is new; missed notifications are replayed. */
  async #tryResume(): Promise<boolean> {
    const deadline = Date.now() + RESUME_GRACE_MS - 1000;
    for (let attempt = 0; Date.now() < deadline && !this.#ended; attempt++) {
      await sleep(Math.min(200 * 2 ** attempt, 2000));
      const result = await this.signaling.resume(
        this.opts.signalingUrl,
        this.#resumeKey,
        this.opts.createSocket,
      );
      if (result === 'resumed') return true;
      if (result === 'expired') return false;
    }
    return false;
  }

  /** A new session: reconnect with the join token, then the host publishes and consumes again. */
  async #rejoin() {
    this.signaling.failPending('session lost');
    this.host.sessionLost();
    this.#prepared = undefined;
    await this.prepare();
    await this.#join();
  }

  #end(reason: string, err?: Error) {
    if (this.#ended) return;
    this.#ended = true;
    this.#signaling?.end(reason);
    this.emit('ended', reason, err);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
