import { Device } from 'mediasoup-client';
import type { types } from 'mediasoup-client';
// Constants from the files that hold them, types from the index: the protocol's zod schemas (which
// probe for eval, a CSP violation) stay out of the browser bundle; the server validates frames.
import { afterCloseCode, reasonForCode } from '../../signaling/protocol/close-reasons.ts';
import { RESUME_GRACE_MS } from '../../signaling/protocol/limits.ts';
import type { Notifications, PeerInfo, ProducerInfo, RoomState } from '../../signaling/protocol/index.ts';
import { LinkStats } from './link-stats.ts';
import { LocalDevices, type AudioOutput, type DeviceChoice } from './media/local-devices.ts';
import { PathRecovery } from './media/path-recovery.ts';
import { RemoteMedia } from './media/remote-media.ts';
import { Publications, PublicationSuperseded, type Publication, type Source } from './media/publications.ts';
import { createTransport } from './media/transports.ts';
import { ConnectionLost, SignalingClient } from './signaling-client.ts';

import type { RemoteTrack, RoomClientEvents, RoomClientOptions } from './room-client-types.ts';

export type {
  AudioOutput,
  DeviceChoice,
  Publication,
  RemoteTrack,
  RoomClientEvents,
  RoomClientOptions,
  Source,
};
const ICE_DISCONNECTED_GRACE_MS = 2000;
const RESUMED_SILENCE_MS = 500;
const JOIN_ATTEMPTS = 3;
const WEBCAM_LAYERS: RTCRtpEncodingParameters[] = [
  { rid: 'r0', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: 'r1', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: 'r2', scaleResolutionDownBy: 1, maxBitrate: 1_200_000 },
];

/**
 * The DOM-free core of a participant: join (or wait to be admitted), publish, consume everyone else,
 * and keep the call alive: resume a dropped socket, rejoin after a long outage, renegotiate when
 * the server rebuilds the room's media, restart ICE when the path fails.
 */
export class RoomClient {
  readonly peers = new Map<string, PeerInfo>();
  readonly #remote = new RemoteMedia({
    signaling: () => this.#signaling,
    recvTransport: () => this.#recvTransport,
    peer: (peerId) => this.peers.get(peerId),
    onTrack: (remote) => this.#emit('remoteTrack', remote),
    onTrackEnded: (consumerId) => this.#emit('remoteTrackEnded', consumerId),
    onError: (err) => this.#emit('error', err),
  });
  /** Consumers of everyone else's media, by consumer id. */
  readonly consumers: ReadonlyMap<string, types.Consumer> = this.#remote.consumers;
  /** Own microphone, camera and speaker: opened with the pre-call choice, switched during the call. */
  readonly devices = new LocalDevices(
    () => this.opts.mediaDevices ?? globalThis.navigator?.mediaDevices,
    (source, track) => this.replaceTrack(source, track),
  );
  peerId: string | undefined;
  status: 'waiting' | 'admitted' | 'closed' = 'waiting';
  #device!: Device;
  #signaling!: SignalingClient;
  #resumeKey = '';
  #sendTransport: types.Transport | undefined;
  /** Concurrent produce calls (mic and webcam at once) share the one send transport being created. */
  #sendTransportCreation: Promise<types.Transport> | undefined;
  /** Bumped whenever transports are dropped, so late results for the old ones are recognised. */
  #mediaGeneration = 0;
  readonly #publications = new Publications(
    (track, source) => this.#produce(track, source),
    (producerId) => this.#signaling.request('closeProducer', { producerId }),
  );
  #recvTransport: types.Transport | undefined;
  #iceServers: RTCIceServer[] = [];
  #admitted!: Promise<void>;
  #markAdmitted!: () => void;
  #reconnecting = false;
  #statsTimer: ReturnType<typeof setInterval> | undefined;
  readonly #linkStats = new LinkStats();
  readonly #path = new PathRecovery({
    transports: () => [this.#sendTransport, this.#recvTransport],
    signaling: () => this.#signaling,
    inCall: () => this.status === 'admitted' && !this.#reconnecting,
    expectsInbound: (transport) =>
      transport === this.#sendTransport
        ? [...this.published.values()].some((p) => p.producer && !p.producer.closed && !p.producer.paused)
        : this.#remote.expectsMedia(),
    rebuildTransports: () => this.#rebuildTransports(),
    onIceRestart: () => this.#emit('connection', 'iceRestart'),
    onError: (err) => this.#emit('error', err),
  });
  #rebuilding = false;

  /** Construct first when event handlers need the instance, then call join(). */
  constructor(private readonly opts: RoomClientOptions) {
    this.#resetAdmission();
    this.#path.watch.enabled = opts.fastPathRecovery ?? true;
  }

  /** See RoomClientOptions.fastPathRecovery; can be switched during a call (diagnostics, benchmarks). */
  get fastPathRecovery() {
    return this.#path.watch.enabled;
  }
  set fastPathRecovery(on: boolean) {
    this.#path.watch.enabled = on;
  }

  static async join(opts: RoomClientOptions): Promise<RoomClient> {
    const client = new RoomClient(opts);
    await client.join();
    return client;
  }

  /**
   * Connects and loads the media device (about 100 ms in Chromium: it probes its own codecs); call
   * it while the camera starts so join() has less to do. Optional: join() prepares if needed.
   */
  prepare(): Promise<void> {
    this.#prepared ??= this.#connect().catch((err: unknown) => {
      this.#prepared = undefined;
      throw err;
    });
    return this.#prepared;
  }

  /**
   * Connects and joins; resolves when joined (admitted or waiting: see whenAdmitted()). A connection
   * lost before the join answered (so there is no session to resume) is retried from the start.
   */
  async join(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.prepare();
        await this.#join();
        return;
      } catch (err) {
        if (!(err instanceof ConnectionLost) || this.#resumeKey || attempt >= JOIN_ATTEMPTS) throw err;
        this.#prepared = undefined;
        this.#emit('connection', 'reconnecting');
        await sleep(250 * attempt);
      }
    }
  }

  #prepared: Promise<void> | undefined;

  get signaling() {
    return this.#signaling;
  }
  get sendTransport() {
    return this.#sendTransport;
  }
  get recvTransport() {
    return this.#recvTransport;
  }

  /** Resolves once a host admitted this participant (at once for hosts). */
  whenAdmitted() {
    return this.#admitted;
  }

  /** What this participant sends, by source (a producer is undefined while it is being created). */
  get published(): ReadonlyMap<Source, Publication> {
    return this.#publications.view;
  }

  /**
   * Sends a track as `source` once admitted (call it while waiting, or again after a rejoin: it is
   * produced once). Publishing a source again with another track swaps the track in place.
   */
  async publish(track: MediaStreamTrack, source: Source): Promise<types.Producer> {
    await this.#publications.set(source, track);
    for (;;) {
      await this.#admitted;
      try {
        return await this.#publications.ensure(source);
      } catch (err) {
        // The transports were replaced meanwhile (media reset, rejoin): produce on the new ones.
        if (!(err instanceof PublicationSuperseded) || this.status === 'closed') throw err;
      }
    }
  }

  async unpublish(source: Source) {
    const producer = this.#publications.remove(source);
    if (producer) await this.#signaling.request('closeProducer', { producerId: producer.id });
  }

  /** Swaps what a published source sends, keeping its producer: no renegotiation, receivers keep decoding. */
  async replaceTrack(source: Source, track: MediaStreamTrack) {
    if (this.published.has(source)) await this.#publications.set(source, track);
  }

  /** Microphone and camera from the devices chosen before the call (default devices where unset). */
  openLocalMedia(choice: DeviceChoice = {}, video?: MediaTrackConstraints): Promise<MediaStream> {
    return this.devices.open(choice, video);
  }

  /**
   * Another camera or microphone (swapped into the producer in place) or speaker (every remote audio
   * element registered with attachAudioOutput). Returns the new input track for the self view.
   */
  async switchDevice(kind: MediaDeviceKind, deviceId: string): Promise<MediaStreamTrack | undefined> {
    if (kind === 'audiooutput') return void (await this.devices.setSpeaker(deviceId));
    const track = await this.devices.switchInput(kind, deviceId);
    this.#emit('localTrack', kind === 'audioinput' ? 'mic' : 'webcam', track);
    return track;
  }

  /** Remote audio plays on the chosen speaker (where the browser supports setSinkId). Returns a detach function. */
  attachAudioOutput(el: AudioOutput): () => void {
    return this.devices.attachOutput(el);
  }

  /** Mute/unmute or camera off/on: stops sending and tells the room. */
  async setPaused(source: Source, paused: boolean) {
    const producer = this.published.get(source)?.producer;
    if (!producer || producer.paused === paused) return;
    if (paused) producer.pause();
    else producer.resume();
    await this.#signaling.request(paused ? 'pauseProducer' : 'resumeProducer', { producerId: producer.id });
  }

  isPaused(source: Source) {
    return this.published.get(source)?.producer?.paused ?? false;
  }

  admit(peerId: string) {
    return this.#signaling.request('admit', { peerId });
  }
  admitAll() {
    return this.#signaling.request('admitAll', {});
  }
  deny(peerId: string) {
    return this.#signaling.request('deny', { peerId });
  }
  muteParticipant(peerId: string, source: Source = 'mic') {
    return this.#signaling.request('muteParticipant', { peerId, source });
  }

  /** Receiver-driven simulcast: ask for the layer that fits where the video is shown. */
  setPreferredLayer(consumerId: string, spatialLayer: number) {
    return this.#signaling.request('setConsumerPreferredLayers', { consumerId, spatialLayer });
  }

  /** New ICE credentials for both transports; media follows the new path once ICE reconnects. */
  restartIce() {
    return this.#path.restartIce();
  }

  /** New transports on the server and here; producers are made again and everything is consumed again. */
  async #rebuildTransports() {
    if (this.#rebuilding) return;
    this.#rebuilding = true;
    try {
      this.#closeMedia();
      this.#emit('mediaReset');
      const { producers } = await this.#signaling.request('resetTransports', {});
      this.#emit('connection', 'transportsRebuilt');
      await this.#startMedia({ peers: [], producers, waiting: [] });
    } catch (err) {
      this.#emit('error', err instanceof Error ? err : new Error(String(err)));
    } finally {
      this.#rebuilding = false;
    }
  }

  leave() {
    if (this.status === 'closed') return;
    this.#signaling.close();
    this.#closeMedia();
    this.#finish('left');
  }

  // ---- join, admission, media setup ----

  async #connect() {
    this.#signaling = await SignalingClient.connect(
      this.opts.signalingUrl,
      this.opts.token,
      this.opts.createSocket,
    );
    this.#bindSignaling();
    this.#device ??= this.opts.handlerFactory
      ? new Device({ handlerFactory: this.opts.handlerFactory })
      : new Device();
    // An earlier attempt may have been cut off between creating the device and loading it.
    if (!this.#device.loaded) {
      const { rtpCapabilities } = await this.#signaling.request('getRouterRtpCapabilities', {});
      await this.#device.load({ routerRtpCapabilities: rtpCapabilities as types.RtpCapabilities });
    }
  }

  async #join() {
    const joined = await this.#signaling.request('join', {
      rtpCapabilities: this.#device.rtpCapabilities as never,
    });
    this.peerId = joined.peerId;
    this.#resumeKey = joined.resumeKey;
    this.#iceServers = joined.iceServers;
    if (joined.participants) this.#emit('participants', joined.participants);
    if (joined.status === 'admitted') await this.#startMedia(joined);
    else this.#emit('waiting');
  }

  async #startMedia(state: RoomState) {
    this.status = 'admitted';
    for (const peer of state.peers) this.#addPeer(peer);
    if (state.waiting.length) this.#emit('waitingRoom', state.waiting);
    this.#recvTransport = await this.#createTransport('recv').catch(() => undefined); // no subscribe permission
    this.#markAdmitted();
    this.#emit('admitted');
    this.#startStatsReporting();
    this.#path.watch.start();
    await this.#remote.add(state.producers);
    await this.#publications.ensureAll((err) => this.#emit('error', err));
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
    return this.#sendTransport.produce({
      track,
      appData: { source },
      stopTracks: false, // the same track is produced again after a media reset or rejoin
      ...(simulcast ? { encodings: WEBCAM_LAYERS, codecOptions: { videoGoogleStartBitrate: 1000 } } : {}),
    });
  }

  #createTransport(direction: 'send' | 'recv'): Promise<types.Transport> {
    let disconnectedTimer: ReturnType<typeof setTimeout> | undefined;
    return createTransport({
      signaling: this.#signaling,
      device: this.#device,
      direction,
      iceServers: this.#iceServers,
      iceTransportPolicy: this.opts.iceTransportPolicy ?? 'all',
      onConnectionState: (state) => {
        clearTimeout(disconnectedTimer);
        // A lost path (network change, NAT rebinding, blocked UDP) needs new ICE credentials to
        // recover; 'disconnected' may heal by itself, so give it a moment before restarting.
        if (state === 'failed') this.#path.restartIceOnce();
        if (state === 'disconnected')
          disconnectedTimer = setTimeout(() => this.#path.restartIceOnce(), ICE_DISCONNECTED_GRACE_MS);
      },
    });
  }

  /** Drops transports, producers and consumers locally; published tracks are kept to publish again. */
  #closeMedia() {
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

  // ---- notifications ----

  #bindSignaling() {
    this.#signaling.onNotification = (method, data) => this.#onNotification(method, data);
    this.#signaling.onClose = (code, reason) => void this.#onSocketClosed(code, reason);
  }

  #onNotification<N extends keyof Notifications>(method: N, data: Notifications[N]) {
    const d = data as never;
    switch (method) {
      case 'peerJoined':
        return this.#addPeer(d);
      case 'peerLeft': {
        const { peerId } = data as Notifications['peerLeft'];
        this.peers.delete(peerId);
        return this.#emit('peerLeft', peerId);
      }
      case 'newProducer':
        return void this.#remote.add([d]);
      case 'consumerClosed': {
        const { consumerId } = data as Notifications['consumerClosed'];
        return this.#remote.closed(consumerId);
      }
      case 'producerPaused':
      case 'producerResumed': {
        const { producerId } = data as Notifications['producerPaused'];
        this.#remote.setPaused(producerId, method === 'producerPaused');
        return this.#emit('remotePaused', producerId, method === 'producerPaused');
      }
      case 'networkQuality':
        return this.#emit('networkQuality', (data as Notifications['networkQuality']).peers);
      case 'activeSpeaker':
        return this.#emit('activeSpeaker', (data as Notifications['activeSpeaker']).peerId);
      case 'mutedBy': {
        const { producerId, by } = data as Notifications['mutedBy'];
        const source = this.#publications.sourceOf(producerId);
        if (!source) return;
        this.published.get(source)?.producer?.pause();
        return this.#emit('mutedBy', source, by);
      }
      case 'participants':
        return this.#emit('participants', (data as Notifications['participants']).participants);
      case 'waitingStatus':
        return this.#emit('waitingStatus', data as Notifications['waitingStatus']);
      case 'muteReleased':
        return this.#emit('muteReleased', (data as Notifications['muteReleased']).source);
      case 'consumerLayersChanged': {
        const { consumerId, spatialLayer } = data as Notifications['consumerLayersChanged'];
        return this.#emit('layersChanged', consumerId, spatialLayer);
      }
      case 'waitingRoom':
        return this.#emit('waitingRoom', (data as Notifications['waitingRoom']).waiting);
      case 'admitted':
        if ((d as RoomState).participants) this.#emit('participants', (d as RoomState).participants!);
        return void this.#startMedia(d).catch((err: Error) => this.#emit('error', err));
      case 'denied':
        return this.#finish('denied');
      case 'mediaReset':
        return void this.#onMediaReset();
      case 'roomClosed':
        this.#closeMedia();
        return this.#finish((data as Notifications['roomClosed']).reason);
    }
  }

  async #onMediaReset() {
    this.#closeMedia();
    this.#emit('mediaReset');
    await this.#startMedia({ peers: [], producers: [], waiting: [] }).catch((err: Error) =>
      this.#emit('error', err),
    );
  }

  // ---- connection loss ----

  async #onSocketClosed(code: number, reason: string) {
    if (this.status === 'closed' || this.#reconnecting) return;
    if (!this.#resumeKey) {
      // Dropped before joining: nothing to resume; join() starts over with the token.
      this.#signaling.failPending(
        'connection lost before join',
        new ConnectionLost('connection lost before join'),
      );
      return;
    }
    // The close catalogue says whether this close ends the call, needs a fresh join, or can be resumed.
    const after = afterCloseCode(code);
    if (after === 'final') {
      this.#closeMedia();
      return this.#finish(reason || (reasonForCode(code) ?? 'closed'));
    }
    this.#reconnecting = true;
    this.#emit('connection', 'reconnecting');
    try {
      if (after === 'resume' && (await this.#tryResume())) {
        this.#emit('connection', 'resumed');
        // The socket dropped and media is silent too: the network changed under both, move media now.
        if (this.#path.watch.enabled && this.#path.watch.silentMs() >= RESUMED_SILENCE_MS)
          this.#path.restartIceOnce();
        return;
      }
      await this.#rejoin();
      this.#emit('connection', 'rejoined');
    } catch (err) {
      this.#closeMedia();
      this.#finish('connection_lost');
      this.#emit('error', err instanceof Error ? err : new Error(String(err)));
    } finally {
      this.#reconnecting = false;
    }
  }

  /** Same session, same transports: only the socket is new; missed notifications are replayed. */
  async #tryResume(): Promise<boolean> {
    const deadline = Date.now() + RESUME_GRACE_MS - 1000;
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      await sleep(Math.min(200 * 2 ** attempt, 2000));
      const result = await this.#signaling.resume(
        this.opts.signalingUrl,
        this.#resumeKey,
        this.opts.createSocket,
      );
      if (result === 'resumed') return true;
      if (result === 'expired') return false;
    }
    return false;
  }

  /** A new session: reconnect with the join token, then publish and consume everything again. */
  async #rejoin() {
    this.#signaling.failPending('session lost');
    this.#closeMedia();
    this.peers.clear();
    this.#resetAdmission();
    this.status = 'waiting';
    await this.#connect();
    await this.#join();
  }

  #startStatsReporting() {
    const interval = this.opts.statsIntervalMs ?? 3000;
    if (interval <= 0 || this.#statsTimer) return;
    this.#statsTimer = setInterval(() => {
      if (this.status !== 'admitted' || this.#reconnecting) return;
      this.#linkStats
        .measure([this.#sendTransport, this.#recvTransport])
        .then((stats) => stats && this.#signaling.request('reportStats', stats))
        .catch(() => undefined); // a missed report is replaced by the next one
    }, interval);
  }

  #resetAdmission() {
    this.#admitted = new Promise((resolve) => (this.#markAdmitted = resolve));
  }

  #addPeer(peer: PeerInfo) {
    this.peers.set(peer.peerId, peer);
    this.#emit('peerJoined', peer);
  }

  #finish(reason: string) {
    if (this.status === 'closed') return;
    this.status = 'closed';
    clearInterval(this.#statsTimer);
    this.#path.stop();
    // Whatever ended the call (left, denied, removed, room closed), the camera light goes off.
    this.devices.stop();
    this.#signaling.failPending(reason);
    this.#emit('closed', reason);
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
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
