import { Device } from 'mediasoup-client';
import type { types } from 'mediasoup-client';
import type { Notifications, PeerInfo, ProducerInfo } from '../../signaling/protocol/index.ts';
import { SignalingClient, type WebSocketLike } from './signaling-client.ts';

export type RemoteTrack = { peer: PeerInfo | undefined; peerId: string; consumerId: string; producerId: string; kind: 'audio' | 'video'; source: string; track: MediaStreamTrack };

export type RoomClientEvents = {
  peerJoined?: (peer: PeerInfo) => void;
  peerLeft?: (peerId: string) => void;
  remoteTrack?: (remote: RemoteTrack) => void;
  remoteTrackEnded?: (consumerId: string) => void;
  closed?: (reason: string) => void;
  /** A background step failed (e.g. consuming a newly announced track). */
  error?: (err: Error) => void;
};

export type RoomClientOptions = {
  signalingUrl: string;
  createSocket: (url: string) => WebSocketLike;
  events?: RoomClientEvents;
  /** For non-browser runtimes (werift bots); browsers detect their own handler. */
  handlerFactory?: types.HandlerFactory;
};

/**
 * The DOM-free core of a participant: join, publish tracks, consume everyone else.
 * Producers announced before the receive transport exists are queued, then consumed.
 */
export class RoomClient {
  readonly peers = new Map<string, PeerInfo>();
  readonly consumers = new Map<string, types.Consumer>();
  readonly producers = new Map<string, types.Producer>();
  peerId: string | undefined;
  #device!: Device;
  #signaling!: SignalingClient;
  #sendTransport: types.Transport | undefined;
  #recvTransport: types.Transport | undefined;
  #pendingProducers: ProducerInfo[] = [];
  #closed = false;

  private constructor(private readonly opts: RoomClientOptions) {}

  static async join(opts: RoomClientOptions): Promise<RoomClient> {
    const client = new RoomClient(opts);
    await client.#join();
    return client;
  }

  get signaling() {
    return this.#signaling;
  }
  get sendTransport() {
    return this.#sendTransport;
  }
  get recvTransport() {
    return this.#recvTransport;
  }

  async #join() {
    this.#signaling = await SignalingClient.connect(this.opts.signalingUrl, this.opts.createSocket);
    this.#signaling.onNotification = (method, data) => this.#onNotification(method, data);
    this.#signaling.onClose = (_code, reason) => this.#onClosed(reason || 'connection_lost');
    this.#device = this.opts.handlerFactory ? new Device({ handlerFactory: this.opts.handlerFactory }) : new Device();
    const { rtpCapabilities } = await this.#signaling.request('getRouterRtpCapabilities', {});
    await this.#device.load({ routerRtpCapabilities: rtpCapabilities as types.RtpCapabilities });
    const joined = await this.#signaling.request('join', { rtpCapabilities: this.#device.rtpCapabilities as never });
    this.peerId = joined.peerId;
    for (const peer of joined.peers) this.#addPeer(peer);
    this.#pendingProducers.push(...joined.producers);
    this.#recvTransport = await this.#createTransport('recv');
    await this.#drainPending();
  }

  async publish(track: MediaStreamTrack, source: 'mic' | 'webcam' | 'screen'): Promise<types.Producer> {
    this.#sendTransport ??= await this.#createTransport('send');
    const producer = await this.#sendTransport.produce({ track, appData: { source } });
    this.producers.set(producer.id, producer);
    return producer;
  }

  close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#signaling.close();
    this.#sendTransport?.close();
    this.#recvTransport?.close();
  }

  async #createTransport(direction: 'send' | 'recv'): Promise<types.Transport> {
    const info = await this.#signaling.request('createTransport', { direction });
    const options = {
      id: info.id,
      iceParameters: info.iceParameters as types.IceParameters,
      iceCandidates: info.iceCandidates as types.IceCandidate[],
      dtlsParameters: info.dtlsParameters as types.DtlsParameters,
    };
    const transport = direction === 'send' ? this.#device.createSendTransport(options) : this.#device.createRecvTransport(options);
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      this.#signaling
        .request('connectTransport', { transportId: transport.id, dtlsParameters: dtlsParameters as never })
        .then(() => callback(), errback);
    });
    if (direction === 'send') {
      transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
        this.#signaling
          .request('produce', {
            transportId: transport.id,
            kind,
            rtpParameters: rtpParameters as never,
            source: (appData.source as 'mic' | 'webcam' | 'screen') ?? 'webcam',
          })
          .then(({ producerId }) => callback({ id: producerId }), errback);
      });
    }
    return transport;
  }

  async #drainPending() {
    while (this.#recvTransport && this.#pendingProducers.length > 0) {
      const info = this.#pendingProducers.shift()!;
      await this.#consume(info).catch((err: Error) => this.#emit('error', err));
    }
  }

  async #consume(info: ProducerInfo) {
    const transport = this.#recvTransport;
    if (!transport || this.#closed) return;
    const res = await this.#signaling.request('consume', { producerId: info.producerId });
    const consumer = await transport.consume({
      id: res.consumerId,
      producerId: res.producerId,
      kind: res.kind,
      rtpParameters: res.rtpParameters as types.RtpParameters,
    });
    this.consumers.set(consumer.id, consumer);
    await this.#signaling.request('resumeConsumer', { consumerId: consumer.id });
    this.#emit('remoteTrack', {
      peer: this.peers.get(info.peerId),
      peerId: info.peerId,
      consumerId: consumer.id,
      producerId: info.producerId,
      kind: res.kind,
      source: info.source,
      track: consumer.track,
    });
  }

  /** Application callbacks must not break the media flow: their errors are reported, not thrown. */
  #emit<E extends keyof RoomClientEvents>(event: E, ...args: Parameters<NonNullable<RoomClientEvents[E]>>) {
    const handler = this.opts.events?.[event] as ((...a: unknown[]) => void) | undefined;
    try {
      handler?.(...args);
    } catch (err) {
      if (event !== 'error') this.#emit('error', err instanceof Error ? err : new Error(String(err)));
    }
  }

  #onNotification<N extends keyof Notifications>(method: N, data: Notifications[N]) {
    switch (method) {
      case 'peerJoined':
        return this.#addPeer(data as Notifications['peerJoined']);
      case 'peerLeft': {
        const { peerId } = data as Notifications['peerLeft'];
        this.peers.delete(peerId);
        return this.#emit('peerLeft', peerId);
      }
      case 'newProducer':
        this.#pendingProducers.push(data as Notifications['newProducer']);
        // Consumed in arrival order; if the receive transport is not there yet, #join drains later.
        return void this.#drainPending();
      case 'consumerClosed': {
        const { consumerId } = data as Notifications['consumerClosed'];
        this.consumers.get(consumerId)?.close();
        this.consumers.delete(consumerId);
        return this.#emit('remoteTrackEnded', consumerId);
      }
      case 'roomClosed':
        return this.#onClosed((data as Notifications['roomClosed']).reason);
    }
  }

  #addPeer(peer: PeerInfo) {
    this.peers.set(peer.peerId, peer);
    this.#emit('peerJoined', peer);
  }

  #onClosed(reason: string) {
    if (this.#closed) return;
    this.#closed = true;
    this.#sendTransport?.close();
    this.#recvTransport?.close();
    this.#emit('closed', reason);
  }
}
