import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import { SfuError } from './errors.ts';

export type Direction = 'send' | 'recv';
export type MediaSource = 'mic' | 'webcam' | 'screen';

export type MediaKind = 'audio' | 'video';

/**
 * RTP and DTLS parameters as the client sent them. The SFU hands them to mediasoup, which checks
 * them in depth (a TypeError there is the client's fault), so callers need not know their shape.
 */
export type ClientMediaParameters = object;

export type TransportInfo = {
  id: string;
  iceParameters: types.IceParameters;
  iceCandidates: types.IceCandidate[];
  dtlsParameters: types.DtlsParameters;
};

/** A producer as the rest of the system sees it: plain data, safe to serialise. */
export type ProducerSummary = {
  peerId: string;
  producerId: string;
  kind: MediaKind;
  source: MediaSource;
  paused: boolean;
};

export type ConsumerSummary = {
  consumerId: string;
  producerId: string;
  kind: MediaKind;
  rtpParameters: types.RtpParameters;
};

/** The simulcast/SVC layers a consumer currently forwards (none while it forwards nothing). */
export type ConsumerLayers = { spatialLayer: number; temporalLayer?: number | undefined };

/** mediasoup's 0-10 scores of what the SFU receives from a peer and sends to it; null when nothing flows. */
export type LinkScores = { uplink: number | null; downlink: number | null };

type PeerEvents = {
  /** A consumer of this peer ended because its producer went away. */
  consumerClosed: [consumerId: string];
  consumerLayersChanged: [consumerId: string, layers: ConsumerLayers | undefined];
  close: [];
};

/** What a Peer needs from its Room, passed down so Peer never imports Room. */
export type PeerContext = {
  /** The peer's router (of a big room, maybe one still being opened on another worker). */
  router: Promise<types.Router>;
  /** Its worker's listen socket: the peer's transports are on the router's worker. */
  webRtcServer: types.WebRtcServer;
  /**
   * Any producer in the room by id (another room's id is not found), once it can be consumed on
   * this peer's router.
   */
  findProducer: (producerId: string) => Promise<types.Producer | undefined>;
  /** Every transport created, for connection telemetry. */
  onTransport: (transport: types.WebRtcTransport, direction: Direction) => void;
  onProducer: (peer: Peer, producer: types.Producer) => void;
  onProducerPaused: (peer: Peer, producer: types.Producer, paused: boolean, by: string) => void;
};

export function summarizeProducer(producer: types.Producer): ProducerSummary {
  return {
    peerId: String(producer.appData.peerId),
    producerId: producer.id,
    kind: producer.kind,
    source: (producer.appData.source as MediaSource | undefined) ?? 'webcam',
    paused: producer.paused,
  };
}

export class Peer extends EventEmitter<PeerEvents> {
  readonly transports = new Map<string, types.WebRtcTransport>();
  readonly producers = new Map<string, types.Producer>();
  readonly consumers = new Map<string, types.Consumer>();
  #rtpCapabilities: types.RtpCapabilities | undefined;
  #closed = false;
  readonly #sourcesInUse = new Set<MediaSource>();

  constructor(
    readonly id: string,
    private readonly ctx: PeerContext,
  ) {
    super();
  }

  get closed() {
    return this.#closed;
  }

  /** What the peer's device can receive (from its join); needed before it can consume. */
  setRtpCapabilities(rtpCapabilities: ClientMediaParameters | undefined) {
    this.#rtpCapabilities = rtpCapabilities as types.RtpCapabilities | undefined;
  }

  async createTransport(direction: Direction): Promise<TransportInfo> {
    this.#assertOpen();
    const router = await this.ctx.router;
    this.#assertOpen();
    const transport = await router.createWebRtcTransport({
      webRtcServer: this.ctx.webRtcServer,
      enableUdp: true,
      enableTcp: true,
      preferUdp: true,
      initialAvailableOutgoingBitrate: 1_000_000,
      appData: { direction },
    });
    if (this.#closed) {
      transport.close();
      throw new SfuError('peer_closed', 'peer closed');
    }
    this.transports.set(transport.id, transport);
    transport.observer.on('close', () => this.transports.delete(transport.id));
    this.ctx.onTransport(transport, direction);
    return {
      id: transport.id,
      iceParameters: transport.iceParameters,
      iceCandidates: transport.iceCandidates,
      dtlsParameters: transport.dtlsParameters,
    };
  }

  async connectTransport(transportId: string, dtlsParameters: ClientMediaParameters) {
    await this.#transport(transportId).connect({ dtlsParameters: dtlsParameters as types.DtlsParameters });
  }

  async produce(
    transportId: string,
    kind: MediaKind,
    rtpParameters: ClientMediaParameters,
    source: MediaSource,
  ): Promise<ProducerSummary> {
    const transport = this.#transport(transportId, 'send');
    // One producer per source: a second webcam would be consumed and decoded twice by everyone.
    // The source is claimed before the await, so two requests in flight cannot both pass.
    if (this.#sourcesInUse.has(source) || this.#producersBySource(source).length > 0) {
      throw new SfuError(
        'source_already_published',
        `this peer already publishes its ${source}; close it first`,
      );
    }
    this.#sourcesInUse.add(source);
    let producer: types.Producer;
    try {
      producer = await transport.produce({
        kind,
        rtpParameters: rtpParameters as types.RtpParameters,
        appData: { source, peerId: this.id },
      });
    } finally {
      this.#sourcesInUse.delete(source);
    }
    if (this.#closed) {
      producer.close();
      throw new SfuError('peer_closed', 'peer closed');
    }
    this.producers.set(producer.id, producer);
    producer.observer.on('close', () => this.producers.delete(producer.id));
    this.ctx.onProducer(this, producer);
    return summarizeProducer(producer);
  }

  closeProducer(producerId: string) {
    this.#producer(producerId).close();
  }

  /** `by` is the peer id of whoever paused it: the owner, or a moderator muting them. */
  async setProducerPaused(producerId: string, paused: boolean, by = this.id) {
    const producer = this.#producer(producerId);
    if (producer.paused === paused) return;
    await (paused ? producer.pause() : producer.resume());
    this.ctx.onProducerPaused(this, producer, paused, by);
  }

  /** What one of this peer's producers sends (undefined: no such producer). */
  sourceOf(producerId: string): MediaSource | undefined {
    return this.producers.get(producerId)?.appData.source as MediaSource | undefined;
  }

  producersBySource(source: MediaSource): ProducerSummary[] {
    return this.#producersBySource(source).map(summarizeProducer);
  }

  #producersBySource(source: MediaSource): types.Producer[] {
    return [...this.producers.values()].filter((p) => p.appData.source === source);
  }

  /** Link quality as mediasoup scores it; simulcast senders idle upper layers on purpose, so the best-received encoding counts. */
  linkScores(): LinkScores {
    const uplinks = [...this.producers.values()]
      .filter((p) => !p.paused)
      .map((p) => Math.max(...p.score.map((s) => s.score), 0));
    const downlinks = [...this.consumers.values()]
      .filter((c) => !c.paused && !c.producerPaused)
      .map((c) => c.score.score);
    return {
      uplink: uplinks.length ? Math.min(...uplinks) : null,
      downlink: downlinks.length ? Math.min(...downlinks) : null,
    };
  }

  async setConsumerPreferredLayers(consumerId: string, spatialLayer: number, temporalLayer?: number) {
    const consumer = this.consumers.get(consumerId);
    if (!consumer) throw new SfuError('consumer_not_found', 'no such consumer of this peer');
    // Simple (non-simulcast) consumers have a single layer: nothing to select.
    if (consumer.type !== 'simulcast' && consumer.type !== 'svc') return;
    await consumer.setPreferredLayers(
      temporalLayer === undefined ? { spatialLayer } : { spatialLayer, temporalLayer },
    );
  }

  async restartIce(transportId: string): Promise<types.IceParameters> {
    return this.#transport(transportId).restartIce();
  }

  #producer(producerId: string): types.Producer {
    this.#assertOpen();
    const producer = this.producers.get(producerId);
    if (!producer) throw new SfuError('producer_not_found', 'no such producer of this peer');
    return producer;
  }

  /**
   * Consumes another peer's producer in the same room. Consumers start paused: the client resumes
   * once its track is wired, avoiding a lost keyframe.
   */
  async consume(producerId: string, transportId?: string): Promise<ConsumerSummary> {
    this.#assertOpen();
    // Only this room's producers are visible: another room's id is simply not found.
    const own = this.producers.has(producerId);
    const producer = own ? undefined : await this.ctx.findProducer(producerId);
    if (!producer) throw new SfuError('producer_not_found', 'no such producer in this room');
    this.#assertOpen();
    const router = await this.ctx.router;
    const rtpCapabilities = this.#rtpCapabilities;
    if (!rtpCapabilities || !router.canConsume({ producerId: producer.id, rtpCapabilities })) {
      throw new SfuError('cannot_consume', 'this peer cannot consume that producer');
    }
    const transport = transportId
      ? this.#transport(transportId, 'recv')
      : [...this.transports.values()].find((t) => t.appData.direction === 'recv');
    if (!transport) throw new SfuError('transport_not_found', 'no receive transport');
    const consumer = await transport.consume({
      producerId: producer.id,
      rtpCapabilities,
      paused: true,
      appData: { peerId: this.id },
    });
    this.consumers.set(consumer.id, consumer);
    consumer.observer.on('close', () => this.consumers.delete(consumer.id));
    consumer.on('producerclose', () => {
      consumer.close();
      this.emit('consumerClosed', consumer.id);
    });
    consumer.on('layerschange', (layers) => this.emit('consumerLayersChanged', consumer.id, layers));
    return {
      consumerId: consumer.id,
      producerId: producer.id,
      kind: consumer.kind,
      rtpParameters: consumer.rtpParameters,
    };
  }

  async resumeConsumer(consumerId: string) {
    const consumer = this.consumers.get(consumerId);
    if (!consumer) throw new SfuError('consumer_not_found', 'no such consumer of this peer');
    try {
      await consumer.resume();
    } catch (err) {
      // Its producer can go away while the resume is in flight: that is a gone consumer, not a fault.
      if (consumer.closed) throw new SfuError('consumer_not_found', 'consumer closed');
      throw err;
    }
  }

  /** Closes every transport (their producers and consumers go with them); the peer stays in the room. */
  closeTransports() {
    this.#assertOpen();
    for (const transport of [...this.transports.values()]) transport.close();
  }

  close() {
    if (this.#closed) return;
    this.#closed = true;
    // Closing a transport closes its producers and consumers (mediasoup ownership tree).
    for (const transport of this.transports.values()) transport.close();
    this.emit('close');
    this.removeAllListeners();
  }

  #transport(id: string, direction?: Direction): types.WebRtcTransport {
    this.#assertOpen();
    const transport = this.transports.get(id);
    if (!transport || (direction && transport.appData.direction !== direction)) {
      throw new SfuError(
        'transport_not_found',
        `no ${direction ?? ''} transport with that id for this peer`.replace('  ', ' '),
      );
    }
    return transport;
  }

  #assertOpen() {
    if (this.#closed) throw new SfuError('peer_closed', 'peer closed');
  }
}
