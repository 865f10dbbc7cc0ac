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

type NotificationHandler = <N extends keyof Notifications>(method: N, data: Notifications[N]) => void;

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
export class SignalingClient {
  #nextId = 1;
  #ws: WebSocketLike;
  #lastSeq = 0;
  readonly #pending = new Map<number, Pending>();
  onNotification: NotificationHandler = () => {};
  onErrorFrame: (error: ErrorBody) => void = () => {};
  /** The socket closed; `pending` requests stay queued until resumed or failed. */
  onClose: (code: number, reason: string) => void = () => {};

  private constructor(ws: WebSocketLike) {
    this.#ws = ws;
    this.#bind(ws);
  }

  /** `url` is the bare signaling URL (ws(s)://host/ws); the token goes in the subprotocol header. */
  static async connect(url: string, token: string, createSocket: SocketFactory): Promise<SignalingClient> {
    return new SignalingClient(await open(url, signalingProtocols({ kind: 'join', token }), createSocket));
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
    let ws: WebSocketLike;
    try {
      ws = await open(
        url,
        signalingProtocols({ kind: 'resume', resumeKey, lastSeq: this.#lastSeq }),
        createSocket,
      );
    } catch {
      return 'failed';
    }
    return new Promise((resolve) => {
      ws.onclose = (ev) => resolve(ev.code === closeCode('session_expired') ? 'expired' : 'failed');
      ws.onmessage = (ev) => {
        if ((JSON.parse(String(ev.data)) as ServerFrame).type !== 'resumed') return;
        this.#ws = ws;
        this.#bind(ws); // replayed notifications follow right after this frame
        for (const p of this.#pending.values()) ws.send(p.frame);
        resolve('resumed');
      };
    });
  }

  request<M extends Method>(method: M, data: RequestData<M>, timeoutMs = 15_000): Promise<ResponseData[M]> {
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
    this.failPending('left');
  }

  #bind(ws: WebSocketLike) {
    ws.onmessage = (ev) => ws === this.#ws && this.#onFrame(String(ev.data));
    ws.onclose = (ev) => ws === this.#ws && this.onClose(ev.code, ev.reason);
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
      return this.onNotification(frame.method, frame.data as never);
    }
    if (frame.type === 'error') return this.onErrorFrame(frame.error);
    if (frame.type === 'resumed') return;
    const pending = this.#pending.get(frame.id);
    if (!pending) return;
    this.#pending.delete(frame.id);
    clearTimeout(pending.timer);
    if (frame.ok) pending.resolve(frame.data);
    else pending.reject(new RequestError(frame.error));
  }
}

function open(url: string, protocols: string[], createSocket: SocketFactory): Promise<WebSocketLike> {
  return new Promise((resolve, reject) => {
    const ws = createSocket(url, protocols);
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new ConnectionLost('signaling connection failed'));
    ws.onclose = (ev) => reject(new ConnectionLost(`signaling connection refused (${ev.code})`));
  });
}
