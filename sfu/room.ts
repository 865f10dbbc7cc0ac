import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import { SfuError } from './errors.ts';
import { mediaCodecs } from './media-codecs.ts';
import { Peer, summarizeProducer, type ProducerSummary } from './peer.ts';
import type { SfuWorker } from './worker-pool.ts';

export type RoomCloseReason = 'empty' | 'ended' | 'ended_by_host' | 'worker_died' | 'shutdown';

type RoomEvents = {
  newProducer: [peer: Peer, producer: ProducerSummary];
  producerPaused: [peer: Peer, producer: ProducerSummary, paused: boolean, by: string];
  /** A producer went away (closed by its peer, with its transport, or with the peer). */
  producerClosed: [peer: Peer, producerId: string];
  activeSpeaker: [peerId: string];
  peerClosed: [peer: Peer];
  close: [reason: RoomCloseReason];
};

/** A Router on one worker and the peers in it. Knows nothing of users: peers are opaque ids. */
export class Room extends EventEmitter<RoomEvents> {
  readonly peers = new Map<string, Peer>();
  #closed = false;

  private constructor(
    readonly id: string,
    readonly router: types.Router,
    private readonly sfuWorker: SfuWorker,
    private readonly speakers: types.ActiveSpeakerObserver,
  ) {
    super();
    router.on('workerclose', () => this.close('worker_died'));
    speakers.on('dominantspeaker', ({ producer }) => {
      const peerId = producer.appData.peerId;
      if (typeof peerId === 'string') this.emit('activeSpeaker', peerId);
    });
  }

  static async create(id: string, sfuWorker: SfuWorker): Promise<Room> {
    const router = await sfuWorker.worker.createRouter({ mediaCodecs, appData: { roomId: id } });
    const speakers = await router.createActiveSpeakerObserver({ interval: 300 });
    return new Room(id, router, sfuWorker, speakers);
  }

  get closed() {
    return this.#closed;
  }

  get workerIndex() {
    return this.sfuWorker.index;
  }

  get rtpCapabilities(): types.RtpCapabilities {
    return this.router.rtpCapabilities;
  }

  addPeer(peerId: string): Peer {
    if (this.#closed) throw new SfuError('room_closed', 'room closed');
    if (this.peers.has(peerId)) throw new SfuError('peer_exists', 'peer already in room');
    const { server, release } = this.sfuWorker.takeWebRtcServer();
    const peer = new Peer(peerId, {
      router: this.router,
      webRtcServer: server,
      findProducer: (producerId) => this.findProducer(producerId),
      onTransport: (transport, direction) =>
        this.sfuWorker.transports.watch(transport, {
          roomId: this.id,
          peerId,
          direction,
          workerIndex: this.sfuWorker.index,
        }),
      onProducer: (p, producer) => {
        if (producer.kind === 'audio')
          void this.speakers.addProducer({ producerId: producer.id }).catch(() => undefined);
        producer.observer.once('close', () => !this.#closed && this.emit('producerClosed', p, producer.id));
        this.emit('newProducer', p, summarizeProducer(producer));
      },
      onProducerPaused: (p, producer, paused, by) =>
        this.emit('producerPaused', p, summarizeProducer(producer), paused, by),
    });
    this.peers.set(peerId, peer);
    peer.once('close', () => {
      release();
      this.peers.delete(peerId);
      if (!this.#closed) this.emit('peerClosed', peer);
    });
    return peer;
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

  close(reason: RoomCloseReason) {
    if (this.#closed) return;
    this.#closed = true;
    for (const peer of this.peers.values()) peer.close();
    this.peers.clear();
    this.router.close();
    this.emit('close', reason);
    this.removeAllListeners();
  }
}
