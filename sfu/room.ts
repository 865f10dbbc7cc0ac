import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import { SfuError } from './errors.ts';
import { Peer, summarizeProducer, type ProducerSummary } from './peer.ts';
import { createRouter, RoomRouters, type RoomSpread, type RouterSlot } from './room-routers.ts';
import type { SfuWorker } from './worker-pool.ts';

const SPEAKER_INTERVAL_MS = 300;

/** The router the room calls home, its worker, and the active-speaker observer listening there. */
type Home = { router: types.Router; sfuWorker: SfuWorker; speakers: types.ActiveSpeakerObserver };

export type RoomCloseReason = 'empty' | 'ended' | 'ended_by_host' | 'worker_died' | 'shutdown';

type RoomEvents = {
  newProducer: [peer: Peer, producer: ProducerSummary];
  producerPaused: [peer: Peer, producer: ProducerSummary, paused: boolean, by: string];
  /** A producer went away (closed by its peer, with its transport, or with the peer). */
  producerClosed: [peer: Peer, producerId: string];
  activeSpeaker: [peerId: string];
  peerClosed: [peer: Peer];
  /**
   * A worker under one of the room's other routers died: these peers lost their transports and
   * were placed again (new Peer objects in `peers`, on live workers); they must negotiate anew.
   */
  peersMoved: [peerIds: string[]];
  close: [reason: RoomCloseReason];
};

/**
 * The peers of one call and the Routers they are on: one Router on one worker, and with a spread
 * (big rooms) more Routers on other workers, piped together (room-routers.ts). A dead worker costs
 * only the peers of its Router their media: they are placed again and told (peersMoved), the rest
 * keep theirs; if it was the home Router (where the active-speaker observer listens), the next
 * Router becomes the home. A room on one Router closes with 'worker_died' instead, and the hub
 * recreates it on a live worker. Knows nothing of users: peers are opaque ids.
 */
export class Room extends EventEmitter<RoomEvents> {
  readonly peers = new Map<string, Peer>();
  readonly #routers: RoomRouters;
  /** Peers being placed again after their worker died: their old Peer closes without a goodbye. */
  readonly #moving = new Set<string>();
  /** The home router (the first one, or the one that took over when its worker died). */
  #home: Home;
  #closed = false;

  private constructor(
    readonly id: string,
    home: Home,
    spread: RoomSpread | undefined,
  ) {
    super();
    this.#home = home;
    this.#routers = new RoomRouters(id, home.sfuWorker, home.router, spread, (r, slot) =>
      this.#closed ? r.close() : r.on('workerclose', () => this.#lostWorkerOf(slot)),
    );
    const homeSlot = this.#routers.slots[0]!;
    home.router.on('workerclose', () => this.#lostWorkerOf(homeSlot));
    this.#listenForSpeakers(home.speakers);
  }

  #listenForSpeakers(speakers: types.ActiveSpeakerObserver) {
    speakers.on('dominantspeaker', ({ producer }) => {
      const peerId = producer.appData.peerId;
      if (typeof peerId === 'string') this.emit('activeSpeaker', peerId);
    });
  }

  /** `spread`: let the room open routers on other workers as it grows (see RoomSpread). */
  static async create(id: string, sfuWorker: SfuWorker, spread?: RoomSpread): Promise<Room> {
    const router = await createRouter(sfuWorker, id);
    const speakers = await router.createActiveSpeakerObserver({ interval: SPEAKER_INTERVAL_MS });
    return new Room(id, { router, sfuWorker, speakers }, spread);
  }

  /** The home router: where the active-speaker observer listens. */
  get router(): types.Router {
    return this.#home.router;
  }

  get closed() {
    return this.#closed;
  }

  /** The worker of the room's home router. */
  get workerIndex() {
    return this.#home.sfuWorker.index;
  }

  /** Every worker the room has a router on (the first one first). */
  get workerIndexes(): number[] {
    return this.#routers.workerIndexes();
  }

  /** Peers on each of the room's routers, by worker index. */
  peersPerWorker(): Map<number, number> {
    return new Map(this.#routers.slots.map((s) => [s.sfuWorker.index, s.peers]));
  }

  /** The worker the peer's transports are on. */
  workerOf(peerId: string): number | undefined {
    return this.#routers.slotOf(peerId)?.sfuWorker.index;
  }

  get rtpCapabilities(): types.RtpCapabilities {
    return this.router.rtpCapabilities;
  }

  addPeer(peerId: string): Peer {
    if (this.#closed) throw new SfuError('room_closed', 'room closed');
    if (this.peers.has(peerId)) throw new SfuError('peer_exists', 'peer already in room');
    const slot = this.#routers.place(peerId);
    const { server, release } = slot.sfuWorker.takeWebRtcServer();
    const peer = new Peer(peerId, {
      router: slot.router,
      webRtcServer: server,
      findProducer: (producerId) => this.#availableOn(producerId, slot),
      onTransport: (transport, direction) =>
        slot.sfuWorker.transports.watch(transport, {
          roomId: this.id,
          peerId,
          direction,
          workerIndex: slot.sfuWorker.index,
        }),
      onProducer: (p, producer) => {
        if (producer.kind === 'audio') void this.#observeSpeaker(producer);
        producer.observer.once('close', () => !this.#closed && this.emit('producerClosed', p, producer.id));
        this.emit('newProducer', p, summarizeProducer(producer));
      },
      onProducerPaused: (p, producer, paused, by) =>
        this.emit('producerPaused', p, summarizeProducer(producer), paused, by),
    });
    this.peers.set(peerId, peer);
    peer.once('close', () => {
      release();
      this.#routers.release(peerId);
      this.peers.delete(peerId);
      if (!this.#closed && !this.#moving.has(peerId)) this.emit('peerClosed', peer);
    });
    return peer;
  }

  #lostWorkerOf(slot: RouterSlot) {
    if (this.#closed) return;
    const wasHome = slot.primary;
    const moved = this.#routers.lose(slot);
    // Its only router: nothing of the room is left to keep.
    if (moved === undefined) return this.close('worker_died');
    for (const peerId of moved) {
      // Its transports, producers and consumers are gone already (and, through the pipes, every
      // consumer of its producers elsewhere): only the bookkeeping is left to close.
      this.#moving.add(peerId);
      this.peers.get(peerId)?.close();
      this.#moving.delete(peerId);
      this.addPeer(peerId);
    }
    if (moved.length > 0) this.emit('peersMoved', moved);
    if (wasHome) void this.#takeNewHome();
  }

  /** The next router is the home now: active-speaker detection starts again there. */
  async #takeNewHome() {
    const slot = this.#routers.slots[0]!;
    try {
      const router = await slot.router;
      const speakers = await router.createActiveSpeakerObserver({ interval: SPEAKER_INTERVAL_MS });
      if (this.#closed || this.#routers.slots[0] !== slot) return speakers.close();
      this.#home = { router, sfuWorker: slot.sfuWorker, speakers };
      this.#listenForSpeakers(speakers);
      for (const peer of this.peers.values())
        for (const producer of peer.producers.values())
          if (producer.kind === 'audio') void this.#observeSpeaker(producer);
    } catch {
      // That router's worker went too (or is going): nothing of the room can be kept.
      this.close('worker_died');
    }
  }

  /** Every producer in the room except the given peer's own. */
  producersExcept(peerId: string): ProducerSummary[] {
    return [...this.peers.values()]
      .filter((p) => p.id !== peerId)
      .flatMap((peer) => [...peer.producers.values()].map(summarizeProducer));
  }

  findProducer(producerId: string): types.Producer | undefined {
    for (const peer of this.peers.values()) {
      const producer = peer.producers.get(producerId);
      if (producer) return producer;
    }
    return undefined;
  }

  /** The room's producer, once it can be consumed on `slot`'s router (piped there if it lives elsewhere). */
  async #availableOn(producerId: string, slot: RouterSlot): Promise<types.Producer | undefined> {
    const producer = this.findProducer(producerId);
    if (!producer) return undefined;
    await this.#routers.makeAvailable(producer, slot);
    return producer;
  }

  /** The observer is on the first router: audio from peers on other routers is piped to it. */
  async #observeSpeaker(producer: types.Producer) {
    try {
      const { speakers } = this.#home;
      await this.#routers.makeAvailable(producer, this.#routers.slots[0]!);
      if (speakers.closed || this.#home.speakers !== speakers) return; // a new home observes it
      await speakers.addProducer({ producerId: producer.id });
    } catch {
      // The producer or the room went away meanwhile: nothing left to observe.
    }
  }

  close(reason: RoomCloseReason) {
    if (this.#closed) return;
    this.#closed = true;
    for (const peer of this.peers.values()) peer.close();
    this.peers.clear();
    this.#routers.closeAll();
    this.#home.router.close();
    this.emit('close', reason);
    this.removeAllListeners();
  }
}
