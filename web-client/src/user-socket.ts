import { afterCloseCode, closeCode, type CloseReason } from '../../signaling/protocol/close-reasons.ts';
import type {
  UserMethod,
  UserNotifications,
  UserRequestData,
  UserResponses,
  UserServerFrame,
} from '../../signaling/protocol/user-chat.ts';
import {
  USER_TOKEN_REFRESH_LEAD_MS,
  userSocketProtocols,
} from '../../signaling/protocol/user-credentials.ts';
import { ConnectionLost, RequestError, type SocketFactory, type WebSocketLike } from './signaling-client.ts';
import { TypedEvents } from './typed-events.ts';

/** A current access token and when it expires (epoch ms): the app refreshes its session to give one. */
export type AccessToken = { accessToken: string; expiresAt: number };
export type AccessTokenSource = () => Promise<AccessToken>;

export type UserSocketEvents = {
  notification: <N extends keyof UserNotifications>(method: N, data: UserNotifications[N]) => void;
  /** A socket is open and ready (first connect and every reconnect): catch up now. */
  connected: (ready: UserNotifications['user.ready']) => void;
  /** The socket went away; a reconnect follows unless `closed` is emitted. */
  disconnected: (code: number, reason: string) => void;
  /** Over for good (signed out, session revoked, account disabled, or close()): no reconnect. */
  closed: (reason: CloseReason | string, code: number) => void;
  error: (err: Error) => void;
};

export type UserSocketOptions = {
  /** ws(s)://host/ws/user: no credential in it. */
  url: string;
  tokens: AccessTokenSource;
  createSocket: SocketFactory;
  /** Delay before reconnect attempt n (1, 2, ...); default 250 ms doubling up to 10 s. */
  backoffMs?: (attempt: number) => number;
  /** How long before expiry the token is refreshed over the socket. */
  refreshLeadMs?: number;
  requestTimeoutMs?: number;
};

type Pending = {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
};

/**
 * The user-level connection, DOM-free: typed requests over one WebSocket that carries all of a
 * user's conversations. It reconnects after a network loss (with a fresh token when the old one
 * expired) and renews its token over the open socket before it expires (auth.refresh), so the
 * socket is not dropped for it. Requests in flight when the socket goes fail with ConnectionLost
 * (no code): a chat send stays "sending" and is re-sent with its own id after the reconnect.
 */
export class UserSocket extends TypedEvents<UserSocketEvents> {
  #ws: WebSocketLike | undefined;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  #token: AccessToken | undefined;
  #refreshTimer: ReturnType<typeof setTimeout> | undefined;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #attempt = 0;
  #over = false;
  #ready: UserNotifications['user.ready'] | undefined;

  constructor(private readonly opts: UserSocketOptions) {
    super();
  }

  protected override listenerFailed(err: Error, event: keyof UserSocketEvents) {
    if (event !== 'error') this.emit('error', err);
  }

  /** Open and ready (user.ready arrived). */
  get connected() {
    return this.#ready !== undefined && this.#ws?.readyState === 1;
  }

  get userId() {
    return this.#ready?.userId;
  }

  /** Connects; resolves once the first socket is ready, rejects if it is refused or closed before. */
  start(): Promise<UserNotifications['user.ready']> {
    const ready = new Promise<UserNotifications['user.ready']>((resolve, reject) => {
      const offs = [
        this.once('connected', (r) => (offs.forEach((off) => off()), resolve(r))),
        this.once('closed', (reason) => (offs.forEach((off) => off()), reject(new ConnectionLost(reason)))),
      ];
    });
    void this.#connect(false);
    return ready;
  }

  request<M extends UserMethod>(
    method: M,
    data: UserRequestData<M>,
    timeoutMs = this.opts.requestTimeoutMs ?? 15_000,
  ): Promise<UserResponses[M]> {
    const ws = this.#ws;
    if (this.#over) return Promise.reject(new Error('the user connection is closed'));
    if (!ws || ws.readyState !== 1 || !this.#ready)
      return Promise.reject(new ConnectionLost('not connected'));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new ConnectionLost(`${method} timed out`));
      }, timeoutMs);
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      ws.send(JSON.stringify({ type: 'request', id, method, data }));
    });
  }

  /** Drops the socket as a network failure would (tests, diagnostics): a reconnect follows. */
  drop() {
    this.#ws?.close(closeCode('dropped'), 'dropped');
  }

  /** Sends raw text; for tests of the server's handling of bad frames. */
  sendRaw(text: string) {
    this.#ws?.send(text);
  }

  close() {
    if (this.#over) return;
    this.#finish('client_left', closeCode('client_left'));
    this.#ws?.close(closeCode('client_left'), 'client_left');
  }

  async #connect(freshToken: boolean) {
    if (this.#over) return;
    try {
      if (freshToken || !this.#token || this.#token.expiresAt <= Date.now() + 1000)
        this.#token = await this.opts.tokens();
    } catch (err) {
      this.emit('error', err instanceof Error ? err : new Error(String(err)));
      return this.#scheduleReconnect(true);
    }
    if (this.#over) return;
    const ws = this.opts.createSocket(this.opts.url, userSocketProtocols(this.#token.accessToken));
    this.#ws = ws;
    let opened = false;
    ws.onopen = () => (opened = true);
    ws.onerror = () => {}; // a close follows; `ws` throws on an error event nobody listens to
    ws.onmessage = (ev) => ws === this.#ws && this.#onFrame(String(ev.data));
    ws.onclose = (ev) => {
      if (ws !== this.#ws) return;
      this.#lost(ev.code, ev.reason, opened);
    };
  }

  #lost(code: number, reason: string, opened: boolean) {
    const wasReady = this.#ready !== undefined;
    this.#ready = undefined;
    clearTimeout(this.#refreshTimer);
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(new ConnectionLost(`user connection closed (${code})`));
    }
    this.#pending.clear();
    if (this.#over) return;
    // A refused upgrade (401: token no longer valid) looks like a close before open: get a fresh token.
    const after = opened ? afterCloseCode(code) : 'rejoin';
    if (after === 'final') return this.#finish(reason || String(code), code);
    if (wasReady) this.emit('disconnected', code, reason);
    this.#scheduleReconnect(after === 'rejoin');
  }

  #scheduleReconnect(freshToken: boolean) {
    if (this.#over) return;
    const attempt = ++this.#attempt;
    const delay = this.opts.backoffMs?.(attempt) ?? Math.min(10_000, 250 * 2 ** (attempt - 1));
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = setTimeout(() => void this.#connect(freshToken), delay);
  }

  #finish(reason: string, code: number) {
    this.#over = true;
    this.#ready = undefined;
    clearTimeout(this.#refreshTimer);
    clearTimeout(this.#reconnectTimer);
    this.emit('closed', reason, code);
  }

  #onFrame(text: string) {
    let frame: UserServerFrame;
    try {
      frame = JSON.parse(text) as UserServerFrame;
    } catch {
      return;
    }
    if (frame.type === 'notification') {
      if (frame.method === 'user.ready') {
        const ready = frame.data as UserNotifications['user.ready'];
        this.#ready = ready;
        this.#attempt = 0;
        this.#planRefresh(ready.expiresAt);
        return this.emit('connected', ready);
      }
      return this.emit('notification', frame.method, frame.data as never);
    }
    if (frame.type === 'error') return this.emit('error', new RequestError(frame.error));
    const pending = this.#pending.get(frame.id);
    if (!pending) return;
    this.#pending.delete(frame.id);
    clearTimeout(pending.timer);
    if (frame.ok) pending.resolve(frame.data);
    else pending.reject(new RequestError(frame.error));
  }

  #planRefresh(expiresAt: number) {
    clearTimeout(this.#refreshTimer);
    const lead = this.opts.refreshLeadMs ?? USER_TOKEN_REFRESH_LEAD_MS;
    const wait = Math.max(0, expiresAt - Date.now() - lead);
    this.#refreshTimer = setTimeout(() => void this.#refresh(), wait);
  }

  /** A failed refresh is retried shortly; if it never succeeds the server closes with token_expired and we reconnect. */
  async #refresh() {
    try {
      const token = await this.opts.tokens();
      const { expiresAt } = await this.request('auth.refresh', { accessToken: token.accessToken });
      this.#token = token;
      this.#planRefresh(expiresAt);
    } catch (err) {
      if (this.#over || !this.connected) return;
      this.emit('error', err instanceof Error ? err : new Error(String(err)));
      this.#refreshTimer = setTimeout(() => void this.#refresh(), 2000);
    }
  }
}
