/**
 * The one public port: WebSocket upgrades on `path` go to the signaling tier, every other HTTP
 * request to the Hono app. Two implementations (uWebSockets.js, ws on node:http), picked at start.
 */
export type HttpFetch = (request: Request, env: { remoteAddress: string }) => Response | Promise<Response>;

export type UpgradeRequest = { path: string; query: URLSearchParams; headers: Headers; remoteAddress: string };

export type UpgradeDecision<T> =
  | { ok: true; context: T }
  | { ok: false; status: 400 | 401 | 403 | 404 | 429 | 503; code: string; detail: string };

export interface SocketConnection {
  /** False when the frame was not queued (socket closed or backpressure limit hit). */
  send(text: string): boolean;
  close(code: number, reason: string): void;
  readonly closed: boolean;
  readonly remoteAddress: string;
}

export interface ConnectionHandler {
  /** Called synchronously; `data` is only valid during the call. */
  onMessage(data: ArrayBuffer | Uint8Array, isBinary: boolean): void;
  onClose(code: number): void;
}

export type SocketServerOptions<T> = {
  host: string;
  port: number;
  path: string;
  maxPayloadBytes: number;
  /** Outgoing bytes queued per socket before it is closed as too slow. */
  maxBackpressureBytes: number;
  maxHttpBodyBytes: number;
  fetch: HttpFetch;
  /**
   * Synchronous: the uWS tier must upgrade inside its upgrade handler (an upgrade made later, from
   * cork(), can be closed right after open by a bug of uWS v20.30; see verify-join-token.ts).
   */
  authorize(request: UpgradeRequest): UpgradeDecision<T>;
  /** Must attach everything synchronously: the first frame may arrive right after it returns. */
  open(connection: SocketConnection, context: T): ConnectionHandler;
};

export interface SocketServer {
  readonly kind: 'uws' | 'ws';
  readonly port: number;
  connectionCount(): number;
  /** Stops accepting, closes open sockets with 1001 and the given reason. */
  close(reason: string): Promise<void>;
}
