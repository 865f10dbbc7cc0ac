/**
 * The one public port: WebSocket upgrades on `paths` go to the signaling tier, every other HTTP
 * request to the Hono app. Two implementations (uWebSockets.js, ws on node:http), picked at start.
 */
export type HttpFetch = (request: Request, env: { remoteAddress: string }) => Response | Promise<Response>;

// The contract the signaling tier consumes lives with it (signaling must not import server code).
import type { CloseReason } from '../../signaling/protocol/close-reasons.ts';
import type {
  ConnectionHandler,
  SocketConnection,
  UpgradeDecision,
  UpgradeRequest,
} from '../../signaling/socket.ts';
export type { ConnectionHandler, SocketConnection, UpgradeDecision, UpgradeRequest };

export type SocketServerOptions<T> = {
  host: string;
  port: number;
  /** WebSocket paths (the room socket, the user socket); authorize() is told which one was asked for. */
  paths: readonly string[];
  /** Frames above this close the socket with 1009. */
  maxPayloadBytes: number;
  /** Let other processes listen on the same port (SO_REUSEPORT); otherwise a taken port fails with EADDRINUSE. */
  sharePort: boolean;
  /** Outgoing bytes queued per socket before it is closed as too slow. */
  maxBackpressureBytes: number;
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
  /** Stops accepting, closes open sockets with the given reason (and its code). */
  close(reason: CloseReason): Promise<void>;
}
