import { closeCode, MAX_FRAME_BYTES, type ServerFrame } from './protocol/index.ts';
import type { ConnectionHandler, SocketConnection } from './socket.ts';

/** Where a room's signaling is served: here, or relayed to the node that hosts it. */
export type Route = { kind: 'here'; release: () => void } | { kind: 'relay'; nodeId: string };

/** One client's frames carried to the owner node and back (the cluster layer implements it). */
export interface RelayLink {
  send(text: string): void;
  /** The client's socket closed: the owner's session detaches as it would from a socket. */
  close(code: number): void;
}

/** What the owner node sends back down a link. */
export type RelayLinkEvents = {
  frame(text: string): void;
  closed(code: number, reason: string): void;
};

/**
 * The cluster as signaling sees it (server/cluster implements it; signaling never imports server/):
 * where a room lives (placing a new one), and links to other nodes. Without it, every room is here.
 */
export interface SignalRouter {
  /** This node (resume keys carry it). */
  readonly nodeId: string;
  route(roomId: string): Promise<Route>;
  link(nodeId: string, opening: RelayOpening, events: RelayLinkEvents): RelayLink;
}

/** What opens a link: a join token (a new session there) or a resume key (a session kept there). */
export type RelayOpening =
  { kind: 'join'; token: string } | { kind: 'resume'; resumeKey: string; lastSeq: number };

/** How long a relayed request may go unanswered before the client hears relay_timeout. */
export const RELAY_REQUEST_TIMEOUT_MS = 10_000;
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * The handler of a socket whose room is decided later (the directory is asked after the upgrade):
 * frames are kept, in order, and handed to the real handler once the route is known.
 */
export function deferredHandler(connection: SocketConnection) {
  const held: { text: string | undefined; bytes: number }[] = [];
  let target: ConnectionHandler | undefined;
  let closedWith: number | undefined;
  return {
    handler: {
      onMessage(data, isBinary) {
        if (target) return target.onMessage(data, isBinary);
        // `data` is only valid during the call: keep the text (a binary or oversized frame gets refused later).
        let text: string | undefined;
        if (!isBinary && data.byteLength <= MAX_FRAME_BYTES)
          try {
            text = decoder.decode(data);
          } catch {
            text = undefined;
          }
        held.push({ text, bytes: data.byteLength });
      },
      onClose(code) {
        if (target) target.onClose(code);
        else closedWith = code;
      },
      onDrain() {
        target?.onDrain?.();
      },
    } satisfies ConnectionHandler,
    /** The route is known: replay what arrived meanwhile, then pass everything through. */
    resolve(handler: ConnectionHandler) {
      target = handler;
      const encoder = new TextEncoder();
      for (const { text, bytes } of held.splice(0))
        // An undecodable frame is replayed as a binary one of the same size: refused the same way.
        handler.onMessage(
          text === undefined ? new Uint8Array(bytes) : encoder.encode(text),
          text === undefined,
        );
      if (closedWith !== undefined || connection.closed) handler.onClose(closedWith ?? closeCode('dropped'));
    },
  };
}

/**
 * The edge of a relayed participant: its frames go to the owner node as they are (the owner's
 * session validates them, as for a socket of its own), the owner's frames come back to the socket.
 * A request the owner leaves unanswered is answered here with relay_timeout, so a client never
 * waits forever on a node that went away.
 */
export function relayHandler(
  connection: SocketConnection,
  open: (events: RelayLinkEvents) => RelayLink,
  timeoutMs = RELAY_REQUEST_TIMEOUT_MS,
): ConnectionHandler {
  const pending = new Map<number, NodeJS.Timeout>();
  const settle = (id: number) => {
    clearTimeout(pending.get(id));
    pending.delete(id);
  };
  const clear = () => {
    for (const timer of pending.values()) clearTimeout(timer);
    pending.clear();
  };
  let ended = false;
  const link = open({
    frame(text) {
      const id = responseId(text);
      if (id !== undefined) settle(id);
      if (!connection.closed) connection.send(text);
    },
    closed(code, reason) {
      ended = true;
      clear();
      if (!connection.closed) connection.close(code, reason);
    },
  });
  return {
    onMessage(data, isBinary) {
      if (ended) return;
      if (isBinary || data.byteLength > MAX_FRAME_BYTES) {
        // The owner would refuse it the same way; there is no need to carry it over.
        const code = isBinary ? 'bad_frame' : 'frame_too_large';
        const message = isBinary
          ? 'binary frames are not supported'
          : `frames are limited to ${MAX_FRAME_BYTES} bytes`;
        return void connection.send(
          JSON.stringify({ type: 'error', error: { code, message } } satisfies ServerFrame),
        );
      }
      let text: string;
      try {
        text = decoder.decode(data);
      } catch {
        return void connection.send(
          JSON.stringify({
            type: 'error',
            error: { code: 'bad_frame', message: 'frame is not valid UTF-8 JSON' },
          } satisfies ServerFrame),
        );
      }
      const id = requestId(text);
      if (id !== undefined && !pending.has(id)) {
        const timer = setTimeout(() => {
          pending.delete(id);
          if (connection.closed) return;
          const frame: ServerFrame = {
            type: 'response',
            id,
            ok: false,
            error: { code: 'relay_timeout', message: 'the node hosting the room did not answer in time' },
          };
          connection.send(JSON.stringify(frame));
        }, timeoutMs);
        timer.unref();
        pending.set(id, timer);
      }
      link.send(text);
    },
    onClose(code) {
      clear();
      if (!ended) link.close(code);
      ended = true;
    },
  };
}

function requestId(text: string): number | undefined {
  try {
    const frame = JSON.parse(text) as { type?: unknown; id?: unknown };
    return frame?.type === 'request' && typeof frame.id === 'number' ? frame.id : undefined;
  } catch {
    return undefined;
  }
}

function responseId(text: string): number | undefined {
  // Only responses settle a request; notifications (most frames) are recognised without parsing.
  if (!text.startsWith('{"type":"response"')) return undefined;
  const id = (JSON.parse(text) as { id?: unknown }).id;
  return typeof id === 'number' ? id : undefined;
}
