import type {
  ErrorBody,
  Method,
  Notifications,
  RequestData,
  ResponseData,
  ServerFrame,
} from '../../signaling/protocol/index.ts';

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

/** Typed request/response over the signaling WebSocket, plus notifications and error frames. */
export class SignalingClient {
  #nextId = 1;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  onNotification: NotificationHandler = () => {};
  onErrorFrame: (error: ErrorBody) => void = () => {};
  onClose: (code: number, reason: string) => void = () => {};

  private constructor(private readonly ws: WebSocketLike) {
    ws.onmessage = (ev) => this.#onFrame(String(ev.data));
    ws.onclose = (ev) => {
      for (const p of this.#pending.values()) p.reject(new Error(`connection closed (${ev.code})`));
      this.#pending.clear();
      this.onClose(ev.code, ev.reason);
    };
  }

  static connect(url: string, createSocket: (url: string) => WebSocketLike): Promise<SignalingClient> {
    return new Promise((resolve, reject) => {
      const ws = createSocket(url);
      ws.onopen = () => resolve(new SignalingClient(ws));
      ws.onerror = () => reject(new Error('signaling connection failed'));
      ws.onclose = (ev) => reject(new Error(`signaling connection refused (${ev.code})`));
    });
  }

  request<M extends Method>(method: M, data: RequestData<M>, timeoutMs = 10_000): Promise<ResponseData[M]> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${method} timed out`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (v) => (clearTimeout(timer), resolve(v as ResponseData[M])),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.ws.send(JSON.stringify({ type: 'request', id, method, data }));
    });
  }

  /** Sends raw text; for tests of the server's handling of bad frames. */
  sendRaw(text: string) {
    this.ws.send(text);
  }

  close() {
    this.ws.close(1000, 'client_left');
  }

  #onFrame(text: string) {
    let frame: ServerFrame;
    try {
      frame = JSON.parse(text) as ServerFrame;
    } catch {
      return;
    }
    if (frame.type === 'notification') return this.onNotification(frame.method, frame.data as never);
    if (frame.type === 'error') return this.onErrorFrame(frame.error);
    const pending = this.#pending.get(frame.id);
    if (!pending) return;
    this.#pending.delete(frame.id);
    if (frame.ok) pending.resolve(frame.data);
    else pending.reject(new RequestError(frame.error));
  }
}
