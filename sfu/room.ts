import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import { SfuError } from './errors.ts';
import { Peer, summarizeProducer, type ProducerSummary } from './peer.ts';
import { createRouter, RoomRouters, type RoomSpread, type RouterSlot } from './room-routers.ts';
import type { SfuWorker } from './worker-pool.ts';

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
 * (big rooms) more Routers on other workers, piped together (room-routers.ts). A dead worker under
 * the first Router (the room's home, with the active-speaker observer) closes the room with
 * 'worker_died', the same path as a one-worker room; under another Router it costs only that
 * Router's peers their media: they are placed again and told (peersMoved), the rest keep theirs.
 * Knows nothing of users: peers are opaque ids.
 */
export class Room extends EventEmitter<RoomEvents> {
  readonly peers = new Map<string, Peer>();
  readonly #routers: RoomRouters;
  /** Peers being placed again after their worker died: their old Peer closes without a goodbye. */
  readonly #moving = new Set<string>();
  #closed = false;

  private constructor(
    readonly id: string,
    /** The first router: the room's home, where the active-speaker observer listens. */
    readonly router: types.Router,
    private readonly sfuWorker: SfuWorker,
    private readonly speakers: types.ActiveSpeakerObserver,
    spread: RoomSpread | undefined,
  ) {
    super();
    router.on('workerclose', () => this.close('worker_died'));
    this.#routers = new RoomRouters(id, sfuWorker, router, spread, (r, slot) =>
      this.#closed ? r.close() : r.on('workerclose', () => this.#lostWorkerOf(slot)),
    );
    speakers.on('dominantspeaker', ({ producer }) => {
      const peerId = producer.appData.peerId;
      if (typeof peerId === 'string') this.emit('activeSpeaker', peerId);
    });
  }

  /** `spread`: let the room open routers on other workers as it grows (see RoomSpread). */
  static async create(id: string, sfuWorker: SfuWorker, spread?: RoomSpread): Promise<Room> {
    const router = await createRouter(sfuWorker, id);
    const speakers = await router.createActiveSpeakerObserver({ interval: 300 });
    return new Room(id, router, sfuWorker, speakers, spread);
  }

  get closed() {
    return this.#closed;
  }

  /** The worker of the room's first router. */
  get workerIndex() {
    return this.sfuWorker.index;
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
    const moved = this.#routers.lose(slot);
    for (const peerId of moved) {
      // Its transports, producers and consumers are gone already (and, through the pipes, every
      // consumer of its producers elsewhere): only the bookkeeping is left to close.
      this.#moving.add(peerId);
      this.peers.get(peerId)?.close();
      this.#moving.delete(peerId);
      this.addPeer(peerId);
    }
    if (moved.length > 0) this.emit('peersMoved', moved);
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
      await this.#routers.makeAvailable(producer, this.#routers.slots[0]!);
      await this.speakers.addProducer({ producerId: producer.id });
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
    this.router.close();
    this.emit('close', reason);
    this.removeAllListeners();
  }
}
