import { closeCode, type CloseReason } from './protocol/close-reasons.ts';

/**
 * What the signaling tier needs from the socket tier (server/http implements it, with uWS or ws):
 * an upgrade request to decide on, and per connection a way to send and close plus a handler.
 */
export type UpgradeRequest = {
  path: string;
  query: URLSearchParams;
  headers: Headers;
  remoteAddress: string;
};

export type UpgradeDecision<T> =
  /** `protocol`: the subprotocol the server selects in its 101 answer (never a credential). */
  | { ok: true; context: T; protocol?: string }
  | { ok: false; status: 400 | 401 | 403 | 404 | 429 | 503; code: string; detail: string };

export interface SocketConnection {
  /** False when the frame was not queued (socket closed or backpressure limit hit). */
  send(text: string): boolean;
  close(code: number, reason: string): void;
  readonly closed: boolean;
  readonly remoteAddress: string;
  /** Bytes accepted by send() and not yet written to the network: how far the client is behind. */
  readonly bufferedBytes: number;
  /** A send was refused because the backlog passed the socket tier's limit; the socket is closed. */
  readonly overflowed: boolean;
}

export interface ConnectionHandler {
  /** Called synchronously; `data` is only valid during the call. */
  onMessage(data: ArrayBuffer | Uint8Array, isBinary: boolean): void;
  onClose(code: number): void;
  /** The send backlog built up earlier has been written out. */
  onDrain?(): void;
}

/** Closes with a catalogued reason and its code: the only way signaling closes a socket. */
export function closeWith(connection: SocketConnection, reason: CloseReason) {
  connection.close(closeCode(reason), reason);
}
