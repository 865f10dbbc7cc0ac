import { Device } from 'mediasoup-client';
import type { types } from 'mediasoup-client';
// Constants from the files that hold them, types from the index: the protocol's zod schemas (which
// probe for eval, a CSP violation) stay out of the browser bundle; the server validates frames.
import {
  CLOSE_CODE_DENIED,
  CLOSE_CODE_LEFT,
  CLOSE_CODE_REPLACED,
  CLOSE_CODE_REVOKED,
  CLOSE_CODE_TOO_MANY_CONNECTIONS,
  CLOSE_CODE_ROOM_CLOSED,
  CLOSE_CODE_SESSION_EXPIRED,
} from '../../signaling/protocol/errors.ts';
import { RESUME_GRACE_MS } from '../../signaling/protocol/limits.ts';
import type { NetworkQuality, Notifications, PeerInfo, ProducerInfo, RoomState, WaitingInfo } from '../../signaling/protocol/index.ts';
import { LinkStats } from './link-stats.ts';
import { ConnectionLost, SignalingClient, type SocketFactory } from './signaling-client.ts';

export type Source = 'mic' | 'webcam' | 'screen';
export type RemoteTrack = {
  peer: PeerInfo | undefined;
  peerId: string;
  consumerId: string;
  producerId: string;
  kind: 'audio' | 'video';
  source: string;
  paused: boolean;
  track: MediaStreamTrack;
};

export type RoomClientEvents = {
  waiting?: () => void;
  admitted?: () => void;
  waitingRoom?: (waiting: WaitingInfo[]) => void;
  peerJoined?: (peer: PeerInfo) => void;
  peerLeft?: (peerId: string) => void;
  remoteTrack?: (remote: RemoteTrack) => void;
  remoteTrackEnded?: (consumerId: string) => void;
  remotePaused?: (producerId: string, paused: boolean) => void;
  activeSpeaker?: (peerId: string) => void;
  networkQuality?: (peers: NetworkQuality[]) => void;
  mutedBy?: (source: Source, by: string) => void;
  layersChanged?: (consumerId: string, spatialLayer: number | null) => void;
  connection?: (state: 'reconnecting' | 'resumed' | 'rejoined' | 'iceRestart') => void;
  mediaReset?: () => void;
  closed?: (reason: string) => void;
  /** A background step failed (e.g. consuming a newly announced track). */
  error?: (err: Error) => void;
};

export type RoomClientOptions = {
  /** ws(s)://host/ws */
  signalingUrl: string;
  token: string;
  /** Must pass the protocols on: `(url, protocols) => new WebSocket(url, protocols)` (they carry the token). */
  createSocket: SocketFactory;
  events?: RoomClientEvents;
  /** For non-browser runtimes (werift bots); browsers detect their own handler. */
  handlerFactory?: types.HandlerFactory;
  /** Webcam as three simulcast layers (browsers); off for bots that cannot encode them. */
  simulcast?: boolean;
  /** How often this client reports its link stats to the room (0 = never). */
  statsIntervalMs?: number;
  /** 'relay' sends all media through TURN (networks that must not expose addresses, tests). */
  iceTransportPolicy?: RTCIceTransportPolicy;
};

const FINAL_CLOSES: Record<number, string> = {
  [CLOSE_CODE_REPLACED]: 'duplicate_identity',
  [CLOSE_CODE_ROOM_CLOSED]: 'room_closed',
  [CLOSE_CODE_DENIED]: 'denied',
  [CLOSE_CODE_LEFT]: 'left',
  // The server sends why (invitation_revoked, consultation_cancelled, ...); reconnecting cannot help.
  [CLOSE_CODE_REVOKED]: 'access_revoked',
  // This link is open in too many tabs already: retrying would only knock again.
  [CLOSE_CODE_TOO_MANY_CONNECTIONS]: 'too_many_connections',
};
const ICE_DISCONNECTED_GRACE_MS = 2000;
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
  readonly consumers = new Map<string, types.Consumer>();
  readonly published = new Map<Source, { track: MediaStreamTrack; producer: types.Producer | undefined }>();
  peerId: string | undefined;
  status: 'waiting' | 'admitted' | 'closed' = 'waiting';
  #device!: Device;
  #signaling!: SignalingClient;
  #resumeKey = '';
  #sendTransport: types.Transport | undefined;
  #recvTransport: types.Transport | undefined;
  #pendingProducers: ProducerInfo[] = [];
  #iceServers: RTCIceServer[] = [];
  #draining = false;
  #admitted!: Promise<void>;
  #markAdmitted!: () => void;
  #reconnecting = false;
  #statsTimer: ReturnType<typeof setInterval> | undefined;
  readonly #linkStats = new LinkStats();

  /** Construct first when event handlers need the instance, then call join(). */
  constructor(private readonly opts: RoomClientOptions) {
    this.#resetAdmission();
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

  async publish(track: MediaStreamTrack, source: Source): Promise<types.Producer> {
    await this.#admitted;
    const entry = { track, producer: undefined as types.Producer | undefined };
    this.published.set(source, entry);
    entry.producer = await this.#produce(track, source);
    return entry.producer;
  }

  async unpublish(source: Source) {
    const entry = this.published.get(source);
    this.published.delete(source);
    if (!entry?.producer) return;
    entry.producer.close();
    await this.#signaling.request('closeProducer', { producerId: entry.producer.id });
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
  async restartIce() {
    for (const transport of [this.#sendTransport, this.#recvTransport]) {
      if (!transport || transport.closed) continue;
      const { iceParameters } = await this.#signaling.request('restartIce', { transportId: transport.id });
      await transport.restartIce({ iceParameters: iceParameters as types.IceParameters });
    }
  }

  #iceRestarting = false;

  #restartIceOnce() {
    if (this.#iceRestarting || this.status !== 'admitted') return;
    this.#iceRestarting = true;
    this.#emit('connection', 'iceRestart');
    this.restartIce()
      .catch((err: Error) => this.#emit('error', err))
      .finally(() => (this.#iceRestarting = false));
  }

  leave() {
    if (this.status === 'closed') return;
    this.#signaling.close();
    this.#closeMedia();
    this.#finish('left');
  }

  // ---- join, admission, media setup ----

  async #connect() {
    this.#signaling = await SignalingClient.connect(this.opts.signalingUrl, this.opts.token, this.opts.createSocket);
    this.#bindSignaling();
    this.#device ??= this.opts.handlerFactory ? new Device({ handlerFactory: this.opts.handlerFactory }) : new Device();
    // An earlier attempt may have been cut off between creating the device and loading it.
    if (!this.#device.loaded) {
      const { rtpCapabilities } = await this.#signaling.request('getRouterRtpCapabilities', {});
      await this.#device.load({ routerRtpCapabilities: rtpCapabilities as types.RtpCapabilities });
    }
  }

  async #join() {
    const joined = await this.#signaling.request('join', { rtpCapabilities: this.#device.rtpCapabilities as never });
    this.peerId = joined.peerId;
    this.#resumeKey = joined.resumeKey;
    this.#iceServers = joined.iceServers;
    if (joined.status === 'admitted') await this.#startMedia(joined);
    else this.#emit('waiting');
  }

  async #startMedia(state: RoomState) {
    this.status = 'admitted';
    for (const peer of state.peers) this.#addPeer(peer);
    if (state.waiting.length) this.#emit('waitingRoom', state.waiting);
    this.#pendingProducers.push(...state.producers);
    this.#recvTransport = await this.#createTransport('recv').catch(() => undefined); // no subscribe permission
    this.#markAdmitted();
    this.#emit('admitted');
    this.#startStatsReporting();
    await this.#drainPending();
    for (const [source, entry] of this.published) {
      if (!entry.producer || entry.producer.closed) entry.producer = await this.#produce(entry.track, source);
    }
  }

  async #produce(track: MediaStreamTrack, source: Source) {
    this.#sendTransport ??= await this.#createTransport('send');
    const simulcast = source === 'webcam' && track.kind === 'video' && this.opts.simulcast !== false;
    return this.#sendTransport.produce({
      track,
      appData: { source },
      stopTracks: false, // the same track is produced again after a media reset or rejoin
      ...(simulcast ? { encodings: WEBCAM_LAYERS, codecOptions: { videoGoogleStartBitrate: 1000 } } : {}),
    });
  }

  async #createTransport(direction: 'send' | 'recv'): Promise<types.Transport> {
    const info = await this.#signaling.request('createTransport', { direction });
    const options = {
      id: info.id,
      iceParameters: info.iceParameters as types.IceParameters,
      iceCandidates: info.iceCandidates as types.IceCandidate[],
      dtlsParameters: info.dtlsParameters as types.DtlsParameters,
      iceServers: this.#iceServers,
      iceTransportPolicy: this.opts.iceTransportPolicy ?? 'all',
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
          .request('produce', { transportId: transport.id, kind, rtpParameters: rtpParameters as never, source: appData.source as Source })
          .then(({ producerId }) => callback({ id: producerId }), errback);
      });
    }
    let disconnectedTimer: ReturnType<typeof setTimeout> | undefined;
    transport.on('connectionstatechange', (state) => {
      clearTimeout(disconnectedTimer);
      // A lost path (network change, NAT rebinding, blocked UDP) needs new ICE credentials to
      // recover; 'disconnected' may heal by itself, so give it a moment before restarting.
      if (state === 'failed') this.#restartIceOnce();
      if (state === 'disconnected') disconnectedTimer = setTimeout(() => this.#restartIceOnce(), ICE_DISCONNECTED_GRACE_MS);
    });
    return transport;
  }

  /** Consumes everything announced so far, all at once, video first (it is what people wait for). */
  async #drainPending() {
    if (this.#draining) return;
    this.#draining = true;
    try {
      while (this.#recvTransport && this.#pendingProducers.length > 0) {
        const batch = this.#pendingProducers.splice(0).sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'video' ? -1 : 1));
        await Promise.all(batch.map((info) => this.#consume(info).catch((err: Error) => this.#emit('error', err))));
      }
    } finally {
      this.#draining = false;
    }
  }

  async #consume(info: ProducerInfo) {
    const transport = this.#recvTransport;
    if (!transport || transport.closed) return;
    const res = await this.#signaling.request('consume', { producerId: info.producerId });
    const consumer = await transport.consume({
      id: res.consumerId,
      producerId: res.producerId,
      kind: res.kind,
      rtpParameters: res.rtpParameters as types.RtpParameters,
      appData: { peerId: info.peerId, source: info.source },
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
      paused: info.paused,
      track: consumer.track,
    });
  }

  /** Drops transports, producers and consumers locally; published tracks are kept to publish again. */
  #closeMedia() {
    for (const consumerId of this.consumers.keys()) this.#emit('remoteTrackEnded', consumerId);
    this.consumers.clear();
    this.#sendTransport?.close();
    this.#recvTransport?.close();
    this.#sendTransport = undefined;
    this.#recvTransport = undefined;
    this.#pendingProducers = [];
    for (const entry of this.published.values()) entry.producer = undefined;
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
        this.#pendingProducers.push(d);
        return void this.#drainPending();
      case 'consumerClosed': {
        const { consumerId } = data as Notifications['consumerClosed'];
        this.consumers.get(consumerId)?.close();
        this.consumers.delete(consumerId);
        return this.#emit('remoteTrackEnded', consumerId);
      }
      case 'producerPaused':
      case 'producerResumed':
        return this.#emit('remotePaused', (data as Notifications['producerPaused']).producerId, method === 'producerPaused');
      case 'networkQuality':
        return this.#emit('networkQuality', (data as Notifications['networkQuality']).peers);
      case 'activeSpeaker':
        return this.#emit('activeSpeaker', (data as Notifications['activeSpeaker']).peerId);
      case 'mutedBy': {
        const { producerId, by } = data as Notifications['mutedBy'];
        for (const [source, entry] of this.published) {
          if (entry.producer?.id !== producerId) continue;
          entry.producer.pause();
          this.#emit('mutedBy', source, by);
        }
        return;
      }
      case 'consumerLayersChanged': {
        const { consumerId, spatialLayer } = data as Notifications['consumerLayersChanged'];
        return this.#emit('layersChanged', consumerId, spatialLayer);
      }
      case 'waitingRoom':
        return this.#emit('waitingRoom', (data as Notifications['waitingRoom']).waiting);
      case 'admitted':
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
    await this.#startMedia({ peers: [], producers: [], waiting: [] }).catch((err: Error) => this.#emit('error', err));
  }

  // ---- connection loss ----

  async #onSocketClosed(code: number, reason: string) {
    if (this.status === 'closed' || this.#reconnecting) return;
    if (!this.#resumeKey) {
      // Dropped before joining: nothing to resume; join() starts over with the token.
      this.#signaling.failPending('connection lost before join', new ConnectionLost('connection lost before join'));
      return;
    }
    const final = FINAL_CLOSES[code];
    if (final) {
      this.#closeMedia();
      return this.#finish(reason || final);
    }
    this.#reconnecting = true;
    this.#emit('connection', 'reconnecting');
    try {
      if (code !== CLOSE_CODE_SESSION_EXPIRED && (await this.#tryResume())) return this.#emit('connection', 'resumed');
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
      const result = await this.#signaling.resume(this.opts.signalingUrl, this.#resumeKey, this.opts.createSocket);
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
