import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { closeCode } from '../../signaling/protocol/index.ts';
import type { RelayLink, RelayLinkEvents, RelayOpening, Route, SignalRouter } from '../../signaling/relay.ts';
import type { RelayedOpen } from '../../signaling/signaling-service.ts';
import type { ConnectionHandler, SocketConnection } from '../../signaling/socket.ts';
import type { ClusterBus } from './cluster-bus.ts';
import type { NodeRegistry } from './node-registry.ts';
import { pickNode } from './placement.ts';
import type { RelayMessage } from './relay-messages.ts';
import type { RoomDirectory } from './room-directory.ts';

export type SignalRelayDeps = {
  bus: ClusterBus;
  directory: RoomDirectory;
  registry: NodeRegistry;
  logger: Logger;
  /** Opens a relayed participant's session here (signaling verifies the token again), or resumes one kept here. */
  accept: (connection: SocketConnection, opening: RelayOpening) => RelayedOpen;
  /** A draining node places no new room on itself. */
  draining: () => boolean;
};

type Served = {
  edge: string;
  handler: ConnectionHandler;
  socket: RelayedSocket;
  release: () => void;
  edgeDraining: (deadlineMs: number) => void;
};
type Opened = { owner: string; events: RelayLinkEvents };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const encoder = new TextEncoder();

/**
 * Any node accepts any participant: a room lives on one node (the directory's lease says which);
 * a participant who reached another node is relayed there over the bus, frame for frame, in
 * order (one Redis connection publishes, one subscribes). This node is the edge of the links it
 * opened and the owner of the links it serves. A link to a node that stopped announcing itself
 * ends with room_moved: the client joins again and the room is placed on a live node.
 */
export class SignalRelay implements SignalRouter {
  readonly #served = new Map<string, Served>();
  readonly #opened = new Map<string, Opened>();
  #unsubscribe: (() => Promise<void>) | undefined;
  #watch: NodeJS.Timeout | undefined;
  #watchMs = 0;
  /** Since when each node at the other end of a link has been missing from the registry. */
  readonly #missingSince = new Map<string, number>();
  /** When this node stops relaying (it drains): links opened until then are told so. */
  #drainDeadline: number | undefined;

  constructor(private readonly deps: SignalRelayDeps) {}

  get nodeId() {
    return this.deps.directory.nodeId;
  }

  async start(watchMs: number) {
    this.#watchMs = watchMs;
    this.#unsubscribe = await this.deps.bus.subscribe('signal-relay', (m) => this.#receive(m), this.nodeId);
    this.#watch = setInterval(
      () =>
        void this.endLinksToDeadNodes().catch((err: Error) =>
          this.deps.logger.warn({ err: err.message }, 'relay liveness check failed'),
        ),
      watchMs,
    );
    this.#watch.unref();
  }

  async stop() {
    clearInterval(this.#watch);
    await this.#unsubscribe?.();
    for (const [link, served] of this.#served) {
      served.handler.onClose(closeCode('server_shutdown'));
      this.#forgetServed(link);
    }
    this.endRelayedOut(closeCode('server_shutdown'), 'server_shutdown');
  }

  /** Participants of this node relayed to rooms elsewhere. */
  get relayedOut() {
    return this.#opened.size;
  }

  /** Ends every link this node opened: its participants are told `reason` and join again. */
  endRelayedOut(code: number, reason: string) {
    for (const [link, opened] of this.#opened) {
      // The owner hears it as the client's socket closing: its session detaches.
      this.#send(opened.owner, {
        t: 'close',
        link,
        from: this.nodeId,
        code: closeCode('dropped'),
        reason: '',
      });
      opened.events.closed(code, reason);
    }
    this.#opened.clear();
  }

  /**
   * This node drains: the participants it relays elsewhere are told (by their sessions' nodes) to
   * move their sockets to another node before `deadlineMs` (their rooms stay where they are).
   */
  announceDraining(deadlineMs: number) {
    this.#drainDeadline = Date.now() + deadlineMs;
    for (const [link, opened] of this.#opened) this.#sendDraining(opened.owner, link);
  }

  #sendDraining(owner: string, link: string) {
    const deadlineMs = Math.max(0, (this.#drainDeadline ?? 0) - Date.now());
    this.#send(owner, { t: 'draining', link, from: this.nodeId, deadlineMs });
  }

  /** The room's owner; a room nobody owns is placed on the least-loaded live node first. */
  async route(roomId: string): Promise<Route> {
    const { directory, registry } = this.deps;
    // A dead owner's lease runs out within one lease period: wait for it rather than relay into the void.
    const deadline = Date.now() + directory.leaseMs + 2000;
    for (;;) {
      const owner = await directory.owner(roomId);
      if (owner === this.nodeId) {
        directory.reserve(roomId);
        return { kind: 'here', release: () => void directory.unreserve(roomId).catch(() => {}) };
      }
      const live = await registry.live();
      if (owner && live.some((n) => n.nodeId === owner)) return { kind: 'relay', nodeId: owner };
      if (!owner) {
        const target = pickNode(live)?.nodeId ?? (this.deps.draining() ? undefined : this.nodeId);
        if (!target) throw new Error('no live node takes new rooms');
        await directory.claim(roomId, target);
        continue;
      }
      if (Date.now() > deadline) throw new Error('the room is leased to a node that is gone');
      await sleep(200);
    }
  }

  link(nodeId: string, opening: RelayOpening, events: RelayLinkEvents): RelayLink {
    const link = randomBytes(12).toString('base64url');
    this.#opened.set(link, { owner: nodeId, events });
    this.#send(
      nodeId,
      opening.kind === 'join'
        ? { t: 'open', link, from: this.nodeId, token: opening.token }
        : { t: 'resume', link, from: this.nodeId, key: opening.resumeKey, lastSeq: opening.lastSeq },
    );
    // Reached a node that drains already (a load balancer that has not noticed yet): move on at once.
    if (this.#drainDeadline !== undefined) this.#sendDraining(nodeId, link);
    return {
      send: (text) =>
        this.#opened.has(link) && this.#send(nodeId, { t: 'frame', link, from: this.nodeId, text }),
      close: (code) => {
        if (!this.#opened.delete(link)) return;
        this.#send(nodeId, { t: 'close', link, from: this.nodeId, code, reason: '' });
      },
    };
  }

  /** Links whose other end stopped announcing itself: the edge's clients move, the owner's sessions detach. */
  async endLinksToDeadNodes() {
    if (this.#opened.size === 0 && this.#served.size === 0) return this.#missingSince.clear();
    const announced = new Set((await this.deps.registry.live()).map((n) => n.nodeId));
    const now = Date.now();
    for (const id of this.#missingSince.keys()) if (announced.has(id)) this.#missingSince.delete(id);
    const peers = new Set([
      ...[...this.#opened.values()].map((o) => o.owner),
      ...[...this.#served.values()].map((s) => s.edge),
    ]);
    for (const id of peers)
      if (!announced.has(id) && !this.#missingSince.has(id)) this.#missingSince.set(id, now);
    // Gone only once missing for two beats: a Redis that restarted empty lists nobody until each
    // node has announced itself again, and those nodes' calls must not be cut for it.
    const gone = (id: string) => now - (this.#missingSince.get(id) ?? now) >= 2 * this.#watchMs;
    for (const [link, opened] of this.#opened)
      if (gone(opened.owner)) {
        this.#opened.delete(link);
        this.deps.logger.warn(
          { node: opened.owner },
          'room host node gone: relayed participant told to rejoin',
        );
        opened.events.closed(closeCode('room_moved'), 'room_moved');
      }
    for (const [link, served] of this.#served)
      if (gone(served.edge)) {
        served.handler.onClose(closeCode('dropped'));
        this.#forgetServed(link);
      }
  }

  #receive(m: RelayMessage) {
    if (m.t === 'open') return this.#serve(m.link, m.from, { kind: 'join', token: m.token });
    if (m.t === 'resume')
      return this.#serve(m.link, m.from, { kind: 'resume', resumeKey: m.key, lastSeq: m.lastSeq });
    const served = this.#served.get(m.link);
    // A link is only ever driven by the node at its other end: anything else is a forgery or stale.
    if (served && served.edge === m.from) {
      if (m.t === 'frame') return served.handler.onMessage(encoder.encode(m.text), false);
      if (m.t === 'draining') return served.edgeDraining(m.deadlineMs);
      served.handler.onClose(m.code);
      return this.#forgetServed(m.link);
    }
    const opened = this.#opened.get(m.link);
    if (opened && opened.owner === m.from) {
      if (m.t === 'frame') return opened.events.frame(m.text);
      if (m.t === 'draining') return; // only an edge drains a link
      this.#opened.delete(m.link);
      return opened.events.closed(m.code, m.reason);
    }
  }

  #serve(link: string, edge: string, opening: RelayOpening) {
    if (this.#served.has(link) || edge === this.nodeId) return;
    const socket = new RelayedSocket(
      (text) => this.#send(edge, { t: 'frame', link, from: this.nodeId, text }),
      (code, reason) => {
        const served = this.#served.get(link);
        this.#forgetServed(link);
        this.#send(edge, { t: 'close', link, from: this.nodeId, code, reason });
        // As a socket tier reports its own close: the session detaches (a no-op if it ended already).
        served?.handler.onClose(code);
      },
    );
    const opened = this.deps.accept(socket, opening);
    if (!opened.ok) {
      this.deps.logger.warn({ node: edge, reason: opened.reason }, 'relayed participant refused');
      return socket.close(closeCode(opened.reason), opened.reason);
    }
    // The room's lease is kept while the participant is here, joined or not yet.
    this.deps.directory.reserve(opened.roomId);
    this.#served.set(link, {
      edge,
      handler: opened.handler,
      socket,
      release: () => void this.deps.directory.unreserve(opened.roomId).catch(() => {}),
      edgeDraining: opened.edgeDraining,
    });
  }

  #forgetServed(link: string) {
    const served = this.#served.get(link);
    if (!served) return;
    this.#served.delete(link);
    served.socket.markClosed();
    served.release();
  }

  #send(node: string, message: RelayMessage) {
    this.deps.bus
      .publish('signal-relay', message, node)
      .catch((err: Error) => this.deps.logger.warn({ err: err.message, node }, 'relay message not sent'));
    return true;
  }
}

/** The owner's side of a link: looks like a socket to the session; its frames go back to the edge. */
class RelayedSocket implements SocketConnection {
  #closed = false;
  readonly remoteAddress = 'relay';
  readonly bufferedBytes = 0;
  readonly overflowed = false;

  constructor(
    private readonly sendText: (text: string) => void,
    private readonly closeLink: (code: number, reason: string) => void,
  ) {}

  get closed() {
    return this.#closed;
  }

  send(text: string): boolean {
    if (this.#closed) return false;
    this.sendText(text);
    return true;
  }

  close(code: number, reason: string) {
    if (this.#closed) return;
    this.#closed = true;
    this.closeLink(code, reason);
  }

  markClosed() {
    this.#closed = true;
  }
}
