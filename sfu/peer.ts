import { EventEmitter } from 'node:events';
import type { types } from 'mediasoup';
import { SfuError } from './errors.ts';

export type Direction = 'send' | 'recv';
export type MediaSource = 'mic' | 'webcam' | 'screen';

export type TransportInfo = {
  id: string;
  iceParameters: types.IceParameters;
  iceCandidates: types.IceCandidate[];
  dtlsParameters: types.DtlsParameters;
};

type PeerEvents = {
  /** A consumer of this peer ended because its producer went away. */
  consumerClosed: [consumerId: string];
  consumerLayersChanged: [consumerId: string, layers: types.ConsumerLayers | undefined];
  close: [];
};

/** What a Peer needs from its Room, passed down so Peer never imports Room. */
export type PeerContext = {
  router: types.Router;
  webRtcServer: types.WebRtcServer;
  /** Every transport created, for connection telemetry. */
  onTransport: (transport: types.WebRtcTransport, direction: Direction) => void;
  onProducer: (peer: Peer, producer: types.Producer) => void;
  onProducerPaused: (peer: Peer, producer: types.Producer, paused: boolean, by: string) => void;
};

export class Peer extends EventEmitter<PeerEvents> {
  readonly transports = new Map<string, types.WebRtcTransport>();
  readonly producers = new Map<string, types.Producer>();
  readonly consumers = new Map<string, types.Consumer>();
  rtpCapabilities: types.RtpCapabilities | undefined;
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

  async createTransport(direction: Direction): Promise<TransportInfo> {
    this.#assertOpen();
    const transport = await this.ctx.router.createWebRtcTransport({
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

  async connectTransport(transportId: string, dtlsParameters: types.DtlsParameters) {
    await this.#transport(transportId).connect({ dtlsParameters });
  }

  async produce(
    transportId: string,
    kind: types.MediaKind,
    rtpParameters: types.RtpParameters,
    source: MediaSource,
  ): Promise<types.Producer> {
    const transport = this.#transport(transportId, 'send');
    // One producer per source: a second webcam would be consumed and decoded twice by everyone.
    // The source is claimed before the await, so two requests in flight cannot both pass.
    if (this.#sourcesInUse.has(source) || this.producersBySource(source).length > 0) {
      throw new SfuError('source_already_published', `this peer already publishes its ${source}; close it first`);
    }
    this.#sourcesInUse.add(source);
    let producer: types.Producer;
    try {
      producer = await transport.produce({ kind, rtpParameters, appData: { source, peerId: this.id } });
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
    return producer;
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

  producersBySource(source: MediaSource): types.Producer[] {
    return [...this.producers.values()].filter((p) => p.appData.source === source);
  }

  async setConsumerPreferredLayers(consumerId: string, spatialLayer: number, temporalLayer?: number) {
    const consumer = this.consumers.get(consumerId);
    if (!consumer) throw new SfuError('consumer_not_found', 'no such consumer of this peer');
    // Simple (non-simulcast) consumers have a single layer: nothing to select.
    if (consumer.type !== 'simulcast' && consumer.type !== 'svc') return;
    await consumer.setPreferredLayers(temporalLayer === undefined ? { spatialLayer } : { spatialLayer, temporalLayer });
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

  /** Consumers start paused: the client resumes once its track is wired, avoiding a lost keyframe. */
  async consume(producer: types.Producer, transportId?: string): Promise<types.Consumer> {
    this.#assertOpen();
    if (!this.rtpCapabilities || !this.ctx.router.canConsume({ producerId: producer.id, rtpCapabilities: this.rtpCapabilities })) {
      throw new SfuError('cannot_consume', 'this peer cannot consume that producer');
    }
    const transport = transportId
      ? this.#transport(transportId, 'recv')
      : [...this.transports.values()].find((t) => t.appData.direction === 'recv');
    if (!transport) throw new SfuError('transport_not_found', 'no receive transport');
    const consumer = await transport.consume({
      producerId: producer.id,
      rtpCapabilities: this.rtpCapabilities,
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
    return consumer;
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
      throw new SfuError('transport_not_found', `no ${direction ?? ''} transport with that id for this peer`.replace('  ', ' '));
    }
    return transport;
  }

  #assertOpen() {
    if (this.#closed) throw new SfuError('peer_closed', 'peer closed');
  }
}
