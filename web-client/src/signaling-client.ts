import { closeCode } from '../../signaling/protocol/close-reasons.ts';
import { signalingProtocols } from '../../signaling/protocol/credentials.ts';
import type {
  ErrorBody,
  Method,
  Notifications,
  RequestData,
  ResponseData,
  ServerFrame,
} from '../../signaling/protocol/index.ts';
import { TypedEvents } from './typed-events.ts';

/** The socket went away (or never opened): worth trying again, unlike a RequestError. */
export class ConnectionLost extends Error {
  override name = 'ConnectionLost';
}

/** A failed request, carrying the server's error code. */
export class RequestError extends Error {
  constructor(readonly body: ErrorBody) {
    super(`${body.code}: ${body.message}`);
    this.name = 'RequestError';
  }
  get code() {
    return this.body.code;
  }
}

export type SignalingEvents = {
  notification: <N extends keyof Notifications>(method: N, data: Notifications[N]) => void;
  /** The server refused a frame that carried no request id (unparseable, unknown type). */
  errorFrame: (error: ErrorBody) => void;
  /** The socket closed; unanswered requests stay queued until resumed or failed. */
  close: (code: number, reason: string) => void;
};

/** How long a resume may take from the socket opening to the server's 'resumed' frame. */
const RESUME_ANSWER_MS = 5000;

/** Minimal WebSocket surface, so the same client runs in browsers and in Node load bots. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

/**
 * Opens a WebSocket offering these subprotocols: `(url, protocols) => new WebSocket(url, protocols)`.
 * The join token travels in them (never in the URL, which proxies log).
 */
export type SocketFactory = (url: string, protocols: string[]) => WebSocketLike;

type Replacing = { ws: WebSocketLike; closed?: { code: number; reason: string } };

type Pending = {
  frame: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
};

/**
 * Typed request/response over the signaling WebSocket. The socket can be swapped (resume): request
 * ids keep counting and unanswered requests are re-sent, so the server answers each exactly once.
 */
export class SignalingClient extends TypedEvents<SignalingEvents> {
  #nextId = 1;
  #ws: WebSocketLike;
  #lastSeq = 0;
  readonly #pending = new Map<number, Pending>();
  /** Set once the session is over (left, ended): requests fail at once instead of waiting to time out. */
  #over: Error | undefined;
  /** The socket a move is replacing: its close is held back, the move decides what it means. */
  #replacing: Replacing | undefined;

  private constructor(opened: OpenedSocket) {
    super();
    this.#ws = opened.ws;
    this.#bind(opened);
  }

  /** `url` is the bare signaling URL (ws(s)://host/ws); the token goes in the subprotocol header. */
  static async connect(url: string, token: string, createSocket: SocketFactory): Promise<SignalingClient> {
    return new SignalingClient(await open(url, signalingProtocols({ kind: 'join', token }), createSocket));
  }

  /** Whether the current socket is open (a request sent now goes out at once). */
  get connected() {
    return this.#ws.readyState === 1;
  }

  /** Highest notification sequence number seen: what a resume asks the server to replay after. */
  get lastSeq() {
    return this.#lastSeq;
  }

  /**
   * Replaces a dropped socket with one bound to the same server session and re-sends what was not
   * answered yet. 'expired': the server no longer has the session (rejoin); 'failed': try again.
   */
  async resume(
    url: string,
    resumeKey: string,
    createSocket: SocketFactory,
  ): Promise<'resumed' | 'expired' | 'failed'> {
    let opened: OpenedSocket;
    try {
      opened = await open(
        url,
        signalingProtocols({ kind: 'resume', resumeKey, lastSeq: this.#lastSeq }),
        createSocket,
      );
    } catch {
      return 'failed';
    }
    const { ws } = opened;
    return new Promise((resolve) => {
      // A server that accepted the socket but never answers must not hold the resume forever.
      const timer = setTimeout(() => {
        ws.close(closeCode('dropped'), 'dropped');
        resolve('failed');
      }, RESUME_ANSWER_MS);
      let resumed = false;
      opened.attach(
        (text) => {
          if (resumed) return this.#ws === ws && this.#onFrame(text);
          let frame: ServerFrame;
          try {
            frame = JSON.parse(text) as ServerFrame;
          } catch {
            return;
          }
          if (frame.type !== 'resumed') return;
          resumed = true;
          clearTimeout(timer);
          // From here on frames are this session's (replayed notifications follow right after).
          this.#ws = ws;
          for (const p of this.#pending.values()) ws.send(p.frame);
          resolve('resumed');
        },
        (code, reason) => {
          clearTimeout(timer);
          if (!resumed) return resolve(code === closeCode('session_expired') ? 'expired' : 'failed');
          if (this.#ws === ws) this.emit('close', code, reason);
        },
      );
    });
  }

  /**
   * Make-before-break: binds the session to a new socket (a resume through `url`) while the current
   * one still works, so nothing is lost meanwhile. The server closes the old socket once the new one
   * is bound (resumed_elsewhere); that close is expected and not reported. If the move fails, the
   * old socket goes on, or its close is reported now as any lost socket's would be.
   */
  async move(
    url: string,
    resumeKey: string,
    createSocket: SocketFactory,
  ): Promise<'resumed' | 'expired' | 'failed'> {
    const old = this.#ws;
    const replacing: Replacing = { ws: old };
    this.#replacing = replacing;
    let result: 'resumed' | 'expired' | 'failed' = 'failed';
    try {
      result = await this.resume(url, resumeKey, createSocket);
    } finally {
      this.#replacing = undefined;
    }
    if (result === 'resumed') {
      // The server closes it too; closing here covers a server that did not get to it.
      if (old.readyState <= 1) old.close(closeCode('dropped'), 'dropped');
    } else if (replacing.closed && this.#ws === old) {
      this.emit('close', replacing.closed.code, replacing.closed.reason);
    }
    return result;
  }

  request<M extends Method>(method: M, data: RequestData<M>, timeoutMs = 15_000): Promise<ResponseData[M]> {
    if (this.#over) return Promise.reject(this.#over);
    const id = this.#nextId++;
    const frame = JSON.stringify({ type: 'request', id, method, data });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${method} timed out`));
      }, timeoutMs);
      this.#pending.set(id, { frame, resolve: resolve as (v: unknown) => void, reject, timer });
      if (this.#ws.readyState === 1) this.#ws.send(frame);
    });
  }

  /** Fails every unanswered request (the session is over, or never began). */
  failPending(reason: string, error: Error = new Error(reason)) {
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(error);
    }
    this.#pending.clear();
  }

  /** The session is over for good: what is unanswered fails, and so does every later request. */
  end(reason: string) {
    this.#over ??= new Error(reason);
    this.failPending(reason, this.#over);
  }

  /** Sends raw text; for tests of the server's handling of bad frames. */
  sendRaw(text: string) {
    this.#ws.send(text);
  }

  /** Drops the socket without leaving, as a network failure would (tests, diagnostics). */
  drop() {
    this.#ws.close(closeCode('dropped'), 'dropped');
  }

  /** Leaving for good: the server then drops the session instead of keeping it for resumption. */
  close() {
    this.#ws.close(closeCode('client_left'), 'client_left');
    this.end('left');
  }

  #bind(opened: OpenedSocket) {
    const { ws } = opened;
    opened.attach(
      (text) => ws === this.#ws && this.#onFrame(text),
      (code, reason) => {
        if (ws !== this.#ws) return;
        if (this.#replacing?.ws === ws) return void (this.#replacing.closed = { code, reason });
        this.emit('close', code, reason);
      },
    );
  }

  #onFrame(text: string) {
    let frame: ServerFrame;
    try {
      frame = JSON.parse(text) as ServerFrame;
    } catch {
      return;
    }
    if (frame.type === 'notification') {
      if (frame.seq <= this.#lastSeq) return; // replayed twice: already handled
      this.#lastSeq = frame.seq;
      return this.emit('notification', frame.method, frame.data as never);
    }
    if (frame.type === 'error') return this.emit('errorFrame', frame.error);
    if (frame.type === 'resumed') return;
    const pending = this.#pending.get(frame.id);
    if (!pending) return;
    this.#pending.delete(frame.id);
    clearTimeout(pending.timer);
    if (frame.ok) pending.resolve(frame.data);
    else pending.reject(new RequestError(frame.error));
  }
}

/**
 * A socket that has opened, holding whatever arrived before its owner attached handlers. Node's `ws`
 * delivers the first frames (a resume's 'resumed' and the replay behind it, sent by the server in the
 * same write as the upgrade answer) and even the close on process.nextTick, before the promise of
 * the open resolves: handlers attached after `await open()` would miss them.
 */
class OpenedSocket {
  #messages: string[] | undefined = [];
  #closed: { code: number; reason: string } | undefined;

  constructor(readonly ws: WebSocketLike) {
    ws.onmessage = (ev) => this.#messages?.push(String(ev.data));
    ws.onclose = (ev) => (this.#closed ??= { code: ev.code, reason: ev.reason });
    ws.onerror = () => {}; // a close follows; `ws` throws on an error event nobody listens to
  }

  /** Hands over to the owner: first what arrived early, in order, then everything as it comes. */
  attach(onMessage: (text: string) => void, onClose: (code: number, reason: string) => void) {
    const early = this.#messages ?? [];
    this.#messages = undefined;
    this.ws.onmessage = (ev) => onMessage(String(ev.data));
    this.ws.onclose = (ev) => onClose(ev.code, ev.reason);
    for (const text of early) onMessage(text);
    if (this.#closed) onClose(this.#closed.code, this.#closed.reason);
  }
}

function open(url: string, protocols: string[], createSocket: SocketFactory): Promise<OpenedSocket> {
  return new Promise((resolve, reject) => {
    const ws = createSocket(url, protocols);
    ws.onopen = () => resolve(new OpenedSocket(ws));
    ws.onerror = () => reject(new ConnectionLost('signaling connection failed'));
    ws.onclose = (ev) => reject(new ConnectionLost(`signaling connection refused (${ev.code})`));
  });
}
