import { Device } from 'mediasoup-client';
import type { types } from 'mediasoup-client';
import type { PeerInfo, ProducerInfo } from '../../signaling/protocol/index.ts';
import { LinkStats } from './link-stats.ts';
import { LocalDevices, type MediaDevicesLike } from './media/local-devices.ts';
import { PathRecovery } from './media/path-recovery.ts';
import { Publications, PublicationSuperseded, type Publication, type Source } from './media/publications.ts';
import { RemoteMedia } from './media/remote-media.ts';
import { createTransport } from './media/transports.ts';
import type { RemoteTrack } from './room-client-types.ts';
import type { SignalingClient } from './signaling-client.ts';
import { TypedEvents } from './typed-events.ts';

export type MediaEvents = {
  remoteTrack: (remote: RemoteTrack) => void;
  remoteTrackEnded: (consumerId: string) => void;
  /** 'iceRestart': new ICE credentials; 'transportsRebuilt': a restart did not bring media back. */
  connection: (state: 'iceRestart' | 'transportsRebuilt') => void;
  mediaReset: () => void;
  error: (err: Error) => void;
};

export type MediaSessionOptions = {
  /** For non-browser runtimes (werift bots); browsers detect their own handler. */
  handlerFactory?: types.HandlerFactory | undefined;
  /** Webcam as three simulcast layers (browsers); off for bots that cannot encode them. */
  simulcast?: boolean | undefined;
  statsIntervalMs?: number | undefined;
  iceTransportPolicy?: RTCIceTransportPolicy | undefined;
  fastPathRecovery?: boolean | undefined;
  /** Where microphone and camera come from (the page passes navigator.mediaDevices; bots pass nothing). */
  mediaDevices?: MediaDevicesLike | undefined;
};

/** What the media session needs from the room client (passed down, so this never imports it). */
export type MediaHost = {
  signaling: () => SignalingClient;
  /** In the call with media (admitted, socket not being reconnected). */
  inCall: () => boolean;
  closed: () => boolean;
  whenAdmitted: () => Promise<void>;
  peer: (peerId: string) => PeerInfo | undefined;
  /** The server made this participant's media anew: the host starts media again with these producers. */
  restart: (producers: ProducerInfo[]) => Promise<void>;
};

const ICE_DISCONNECTED_GRACE_MS = 2000;
const WEBCAM_LAYERS: RTCRtpEncodingParameters[] = [
  { rid: 'r0', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: 'r1', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: 'r2', scaleResolutionDownBy: 1, maxBitrate: 1_200_000 },
];

/**
 * A participant's media: the device, the send and receive transports, what it publishes and what it
 * consumes, its own microphone and camera, link stats, and keeping media moving when the network
 * path changes (ICE restart, transports made anew if that fails).
 */
export class MediaSession extends TypedEvents<MediaEvents> {
  readonly #remote: RemoteMedia;
  /** Own microphone, camera and speaker: opened with the pre-call choice, switched during the call. */
  readonly devices: LocalDevices;
  readonly #publications: Publications;
  readonly #path: PathRecovery;
  readonly #linkStats = new LinkStats();
  #device: Device | undefined;
  #sendTransport: types.Transport | undefined;
  /** Concurrent produce calls (mic and webcam at once) share the one send transport being created. */
  #sendTransportCreation: Promise<types.Transport> | undefined;
  /** Bumped whenever transports are dropped, so late results for the old ones are recognised. */
  #mediaGeneration = 0;
  #recvTransport: types.Transport | undefined;
  #iceServers: RTCIceServer[] = [];
  #statsTimer: ReturnType<typeof setInterval> | undefined;
  #rebuilding = false;

  constructor(
    private readonly opts: MediaSessionOptions,
    private readonly host: MediaHost,
  ) {
    super();
    this.#remote = new RemoteMedia({
      signaling: host.signaling,
      recvTransport: () => this.#recvTransport,
      peer: host.peer,
      onTrack: (remote) => {
        this.#path.timeline.note(`consumed:${remote.kind}`);
        this.emit('remoteTrack', remote);
      },
      onTrackEnded: (consumerId) => this.emit('remoteTrackEnded', consumerId),
      onError: (err) => this.emit('error', err),
    });
    this.devices = new LocalDevices(
      () => opts.mediaDevices,
      (source, track) => this.replaceTrack(source, track),
    );
    this.#publications = new Publications(
      (track, source) => this.#produce(track, source),
      (producerId) => host.signaling().request('closeProducer', { producerId }),
    );
    this.#path = new PathRecovery({
      transports: () => [this.#sendTransport, this.#recvTransport],
      signaling: host.signaling,
      inCall: host.inCall,
      expectsInbound: (transport) =>
        transport === this.#sendTransport
          ? [...this.published.values()].some((p) => p.producer && !p.producer.closed && !p.producer.paused)
          : this.#remote.expectsMedia(),
      rebuildTransports: () => this.rebuildTransports(),
      onIceRestart: () => this.emit('connection', 'iceRestart'),
      onError: (err) => this.emit('error', err),
    });
    this.#path.watch.enabled = opts.fastPathRecovery ?? true;
  }

  protected override listenerFailed(err: Error, event: keyof MediaEvents) {
    if (event !== 'error') this.emit('error', err);
  }

  get path() {
    return this.#path;
  }
  get sendTransport() {
    return this.#sendTransport;
  }
  get recvTransport() {
    return this.#recvTransport;
  }
  /** Consumers of everyone else's media, by consumer id. */
  get consumers(): ReadonlyMap<string, types.Consumer> {
    return this.#remote.consumers;
  }
  get published(): ReadonlyMap<Source, Publication> {
    return this.#publications.view;
  }
  get rtpCapabilities() {
    return this.#device?.rtpCapabilities;
  }

  /** Creates the device and loads the room's codecs (once; an attempt cut off halfway is redone). */
  async load(signaling: SignalingClient) {
    this.#device ??= this.opts.handlerFactory
      ? new Device({ handlerFactory: this.opts.handlerFactory })
      : new Device();
    if (this.#device.loaded) return;
    const { rtpCapabilities } = await signaling.request('getRouterRtpCapabilities', {});
    await this.#device.load({ routerRtpCapabilities: rtpCapabilities as types.RtpCapabilities });
  }

  setIceServers(iceServers: RTCIceServer[]) {
    this.#iceServers = iceServers;
  }

  /** The receive transport (none without the subscribe permission). */
  async openReceive() {
    this.#recvTransport = await this.#createTransport('recv').catch(() => undefined);
  }

  /** Admitted with a receive transport: report stats, watch the path, consume and publish everything. */
  async begin(producers: ProducerInfo[]) {
    this.#startStatsReporting();
    this.#path.watch.start();
    await this.#remote.add(producers);
    await this.#publications.ensureAll((err) => this.emit('error', err));
  }

  consume(producers: ProducerInfo[]) {
    return this.#remote.add(producers);
  }
  consumerClosed(consumerId: string) {
    this.#remote.closed(consumerId);
  }
  remotePaused(producerId: string, paused: boolean) {
    this.#remote.setPaused(producerId, paused);
  }

  /** A host muted one of this participant's producers: it stops sending here too. Returns its source. */
  mutedByHost(producerId: string): Source | undefined {
    const source = this.#publications.sourceOf(producerId);
    if (source) this.published.get(source)?.producer?.pause();
    return source;
  }

  /** Sends a track as `source` once admitted (produced once, again after a rejoin or media reset). */
  async publish(track: MediaStreamTrack, source: Source): Promise<types.Producer> {
    await this.#publications.set(source, track);
    for (;;) {
      await this.host.whenAdmitted();
      try {
        return await this.#publications.ensure(source);
      } catch (err) {
        // The transports were replaced meanwhile (media reset, rejoin): produce on the new ones.
        if (!(err instanceof PublicationSuperseded) || this.host.closed()) throw err;
      }
    }
  }

  async unpublish(source: Source) {
    const producer = this.#publications.remove(source);
    if (producer) await this.host.signaling().request('closeProducer', { producerId: producer.id });
  }

  /** Swaps what a published source sends, keeping its producer: no renegotiation. */
  async replaceTrack(source: Source, track: MediaStreamTrack) {
    if (this.published.has(source)) await this.#publications.set(source, track);
  }

  async setPaused(source: Source, paused: boolean) {
    const producer = this.published.get(source)?.producer;
    if (!producer || producer.paused === paused) return;
    if (paused) producer.pause();
    else producer.resume();
    await this.host
      .signaling()
      .request(paused ? 'pauseProducer' : 'resumeProducer', { producerId: producer.id });
  }

  isPaused(source: Source) {
    return this.published.get(source)?.producer?.paused ?? false;
  }

  /** New transports on the server and here; producers are made again and everything is consumed again. */
  async rebuildTransports() {
    if (this.#rebuilding) return;
    this.#rebuilding = true;
    const { timeline } = this.#path;
    try {
      timeline.note('rebuild:start');
      this.close();
      this.emit('mediaReset');
      const { producers } = await this.host.signaling().request('resetTransports', {});
      timeline.note('rebuild:serverReset');
      this.emit('connection', 'transportsRebuilt');
      await this.host.restart(producers);
      timeline.note('rebuild:mediaRestarted');
    } catch (err) {
      this.emit('error', err instanceof Error ? err : new Error(String(err)));
    } finally {
      this.#rebuilding = false;
    }
  }

  /** Drops transports, producers and consumers locally; published tracks are kept to publish again. */
  close() {
    this.#remote.clear();
    this.#sendTransport?.close();
    this.#recvTransport?.close();
    this.#sendTransport = undefined;
    this.#sendTransportCreation?.then((t) => t.close()).catch(() => undefined);
    this.#sendTransportCreation = undefined;
    this.#mediaGeneration++;
    this.#recvTransport = undefined;
    this.#publications.reset();
  }

  /** The call is over: timers stop and the camera light goes off. */
  stop() {
    clearInterval(this.#statsTimer);
    this.#statsTimer = undefined;
    this.#path.stop();
    this.devices.stop();
  }

  async #produce(track: MediaStreamTrack, source: Source) {
    if (!this.#sendTransport) {
      const generation = this.#mediaGeneration;
      const creation = (this.#sendTransportCreation ??= this.#createTransport('send'));
      // A failed creation is not remembered: the next produce tries again.
      creation.catch(
        () => this.#sendTransportCreation === creation && (this.#sendTransportCreation = undefined),
      );
      const transport = await creation;
      // Media was dropped while it was being created: that transport belongs to the old media.
      if (generation !== this.#mediaGeneration) throw new PublicationSuperseded('media reset');
      this.#sendTransport = transport;
    }
    const simulcast = source === 'webcam' && track.kind === 'video' && this.opts.simulcast !== false;
    const producer = await this.#sendTransport.produce({
      track,
      appData: { source },
      stopTracks: false, // the same track is produced again after a media reset or rejoin
      ...(simulcast ? { encodings: WEBCAM_LAYERS, codecOptions: { videoGoogleStartBitrate: 1000 } } : {}),
    });
    this.#path.timeline.note(`produced:${source}`);
    return producer;
  }

  #createTransport(direction: 'send' | 'recv'): Promise<types.Transport> {
    if (!this.#device) return Promise.reject(new Error('media device not loaded'));
    let disconnectedTimer: ReturnType<typeof setTimeout> | undefined;
    return createTransport({
      signaling: this.host.signaling(),
      device: this.#device,
      direction,
      iceServers: this.#iceServers,
      iceTransportPolicy: this.opts.iceTransportPolicy ?? 'all',
      onConnectionState: (state) => {
        this.#path.timeline.note(`state:${direction}:${state}`);
        clearTimeout(disconnectedTimer);
        // A lost path (network change, NAT rebinding, blocked UDP) needs new ICE credentials to
        // recover; 'disconnected' may heal by itself, so give it a moment before restarting.
        if (state === 'failed') this.#path.restartIceOnce();
        if (state === 'disconnected')
          disconnectedTimer = setTimeout(() => this.#path.restartIceOnce(), ICE_DISCONNECTED_GRACE_MS);
      },
    });
  }

  #startStatsReporting() {
    const interval = this.opts.statsIntervalMs ?? 3000;
    if (interval <= 0 || this.#statsTimer) return;
    this.#statsTimer = setInterval(() => {
      if (!this.host.inCall()) return;
      this.#linkStats
        .measure([this.#sendTransport, this.#recvTransport])
        .then((stats) => stats && this.host.signaling().request('reportStats', stats))
        .catch(() => undefined); // a missed report is replaced by the next one
    }, interval);
  }
}
