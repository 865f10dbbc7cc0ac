import type { types } from 'mediasoup-client';
import type { PeerInfo, ProducerInfo, RoomState } from '../../signaling/protocol/index.ts';
import type { AudioOutput, DeviceChoice } from './media/local-devices.ts';
import type { Publication, Source } from './media/publications.ts';
import { MediaSession } from './media-session.ts';
import type {
  RemoteTrack,
  RoomClientEventMap,
  RoomClientEvents,
  RoomClientOptions,
} from './room-client-types.ts';
import { RoomRoster } from './room-roster.ts';
import { SessionClient, type JoinResult } from './session-client.ts';
import { TypedEvents } from './typed-events.ts';

export type {
  AudioOutput,
  DeviceChoice,
  Publication,
  RemoteTrack,
  RoomClientEventMap,
  RoomClientEvents,
  RoomClientOptions,
  Source,
};
/** After a resume, media silent this long means the network changed under the socket and media alike. */
const RESUMED_SILENCE_MS = 500;

/**
 * The DOM-free core of a participant: join (or wait to be admitted), publish, consume everyone else,
 * moderate, and keep the call alive. It composes the signaling session (socket, resume, rejoin,
 * final closes) and the media session (devices, transports, produce/consume, path recovery) and
 * turns the server's notifications into its events (`on`, `off`, `once`; several listeners each).
 */
export class RoomClient extends TypedEvents<RoomClientEventMap> {
  readonly peers = new Map<string, PeerInfo>();
  /** The participant list and everyone's link quality, kept current from the server's change frames. */
  readonly roster = new RoomRoster();
  readonly session: SessionClient;
  readonly media: MediaSession;
  peerId: string | undefined;
  status: 'waiting' | 'admitted' | 'closed' = 'waiting';
  #admitted!: Promise<void>;
  #markAdmitted!: () => void;

  /** Construct first when listeners need the instance, then call join(). */
  constructor(private readonly opts: RoomClientOptions) {
    super();
    for (const [event, listener] of Object.entries(opts.events ?? {}))
      if (listener) this.on(event as keyof RoomClientEventMap, listener as never);
    this.#resetAdmission();
    this.session = new SessionClient(opts, {
      prepare: (signaling) => this.media.load(signaling),
      rtpCapabilities: () => this.media.rtpCapabilities,
      joined: (result) => this.#joined(result),
      sessionLost: () => {
        this.media.close();
        this.peers.clear();
        this.roster.clear();
        this.#resetAdmission();
        this.status = 'waiting';
      },
    });
    this.media = new MediaSession(opts, {
      signaling: () => this.session.signaling,
      inCall: () => this.status === 'admitted' && !this.session.reconnecting,
      closed: () => this.status === 'closed',
      whenAdmitted: () => this.#admitted,
      peer: (peerId) => this.peers.get(peerId),
      restart: (producers) => this.#startMedia({ peers: [], producers, waiting: [] }),
    });
    this.#forwardMedia();
    this.#listenToSession();
  }

  protected override listenerFailed(err: Error, event: keyof RoomClientEventMap) {
    // Application listeners must not break the media flow: their errors are reported, not thrown.
    if (event !== 'error') this.emit('error', err);
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
    return this.session.prepare();
  }

  /**
   * Connects and joins; resolves when joined (admitted or waiting: see whenAdmitted()). A connection
   * lost before the join answered (so there is no session to resume) is retried from the start.
   */
  join(): Promise<void> {
    return this.session.join();
  }

  /** See RoomClientOptions.fastPathRecovery; can be switched during a call (diagnostics, benchmarks). */
  get fastPathRecovery() {
    return this.media.path.watch.enabled;
  }
  set fastPathRecovery(on: boolean) {
    this.media.path.watch.enabled = on;
  }

  get signaling() {
    return this.session.signaling;
  }
  get sendTransport() {
    return this.media.sendTransport;
  }
  get recvTransport() {
    return this.media.recvTransport;
  }
  /** Consumers of everyone else's media, by consumer id. */
  get consumers(): ReadonlyMap<string, types.Consumer> {
    return this.media.consumers;
  }
  /** Own microphone, camera and speaker: opened with the pre-call choice, switched during the call. */
  get devices() {
    return this.media.devices;
  }
  /** What this participant sends, by source (a producer is undefined while it is being created). */
  get published(): ReadonlyMap<Source, Publication> {
    return this.media.published;
  }

  /** Resolves once a host admitted this participant (at once for hosts). */
  whenAdmitted() {
    return this.#admitted;
  }

  /**
   * Sends a track as `source` once admitted (call it while waiting, or again after a rejoin: it is
   * produced once). Publishing a source again with another track swaps the track in place.
   */
  publish(track: MediaStreamTrack, source: Source): Promise<types.Producer> {
    return this.media.publish(track, source);
  }
  unpublish(source: Source) {
    return this.media.unpublish(source);
  }
  /** Swaps what a published source sends, keeping its producer: no renegotiation, receivers keep decoding. */
  replaceTrack(source: Source, track: MediaStreamTrack) {
    return this.media.replaceTrack(source, track);
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
    this.emit('localTrack', kind === 'audioinput' ? 'mic' : 'webcam', track);
    return track;
  }

  /** Remote audio plays on the chosen speaker (where the browser supports setSinkId). Returns a detach function. */
  attachAudioOutput(el: AudioOutput): () => void {
    return this.devices.attachOutput(el);
  }

  /** Mute/unmute or camera off/on: stops sending and tells the room. */
  setPaused(source: Source, paused: boolean) {
    return this.media.setPaused(source, paused);
  }
  isPaused(source: Source) {
    return this.media.isPaused(source);
  }

  // ---- moderation (the server checks the permissions) ----

  admit(peerId: string) {
    return this.signaling.request('admit', { peerId });
  }
  admitAll() {
    return this.signaling.request('admitAll', {});
  }
  deny(peerId: string) {
    return this.signaling.request('deny', { peerId });
  }
  muteParticipant(peerId: string, source: Source = 'mic') {
    return this.signaling.request('muteParticipant', { peerId, source });
  }

  /** Receiver-driven simulcast: ask for the layer that fits where the video is shown. */
  setPreferredLayer(consumerId: string, spatialLayer: number) {
    return this.signaling.request('setConsumerPreferredLayers', { consumerId, spatialLayer });
  }

  /** New ICE credentials for both transports; media follows the new path once ICE reconnects. */
  restartIce() {
    return this.media.path.restartIce();
  }

  leave() {
    if (this.status === 'closed') return;
    this.session.leave();
    this.media.close();
    this.#finish('left');
  }

  // ---- join, admission, media setup ----

  async #joined(joined: JoinResult) {
    this.peerId = joined.peerId;
    this.media.setIceServers(joined.iceServers);
    if (joined.status === 'admitted') await this.#startMedia(joined);
    else this.emit('waiting');
  }

  async #startMedia(state: RoomState) {
    this.status = 'admitted';
    for (const peer of state.peers) this.#addPeer(peer);
    if (state.waiting.length) this.emit('waitingRoom', state.waiting);
    await this.media.openReceive();
    this.#markAdmitted();
    this.emit('admitted');
    await this.media.begin(state.producers);
  }

  #forwardMedia() {
    this.media.on('remoteTrack', (remote) => this.emit('remoteTrack', remote));
    this.media.on('remoteTrackEnded', (consumerId) => this.emit('remoteTrackEnded', consumerId));
    this.media.on('connection', (state) => this.emit('connection', state));
    this.media.on('mediaReset', () => this.emit('mediaReset'));
    this.media.on('error', (err) => this.emit('error', err));
  }

  #listenToSession() {
    const { session } = this;
    session.on('connection', (state) => {
      this.emit('connection', state);
      // The socket dropped and media is silent too: the network changed under both, move media now.
      const { watch } = this.media.path;
      if (state === 'resumed' && watch.enabled && watch.silentMs() >= RESUMED_SILENCE_MS)
        this.media.path.restartIceOnce();
    });
    session.on('ended', (reason, err) => {
      this.media.close();
      this.#finish(reason);
      if (err) this.emit('error', err);
    });
    const n = session.notifications;
    n.on('peerJoined', (peer) => this.#addPeer(peer));
    n.on('peerLeft', ({ peerId }) => {
      this.peers.delete(peerId);
      this.emit('peerLeft', peerId);
    });
    n.on('newProducer', (producer: ProducerInfo) => void this.media.consume([producer]));
    n.on('consumerClosed', ({ consumerId }) => this.media.consumerClosed(consumerId));
    const remotePaused = (producerId: string, paused: boolean) => {
      this.media.remotePaused(producerId, paused);
      this.emit('remotePaused', producerId, paused);
    };
    n.on('producerPaused', ({ producerId }) => remotePaused(producerId, true));
    n.on('producerResumed', ({ producerId }) => remotePaused(producerId, false));
    n.on('networkQuality', (delta) => this.emit('networkQuality', this.roster.applyQuality(delta)));
    n.on('activeSpeaker', ({ peerId }) => this.emit('activeSpeaker', peerId));
    n.on('mutedBy', ({ producerId, by }) => {
      const source = this.media.mutedByHost(producerId);
      if (source) this.emit('mutedBy', source, by);
    });
    n.on('participants', (delta) => this.emit('participants', this.roster.applyParticipants(delta)));
    n.on('waitingStatus', (status) => this.emit('waitingStatus', status));
    n.on('muteReleased', ({ source }) => this.emit('muteReleased', source));
    n.on('consumerLayersChanged', ({ consumerId, spatialLayer }) =>
      this.emit('layersChanged', consumerId, spatialLayer),
    );
    n.on('waitingRoom', ({ waiting }) => this.emit('waitingRoom', waiting));
    n.on('admitted', (state) => {
      this.#startMedia(state).catch((err: Error) => this.emit('error', err));
    });
    n.on('denied', () => this.#finish('denied'));
    n.on('mediaReset', () => {
      this.media.close();
      this.emit('mediaReset');
      this.#startMedia({ peers: [], producers: [], waiting: [] }).catch((err: Error) =>
        this.emit('error', err),
      );
    });
    n.on('roomClosed', ({ reason }) => {
      this.media.close();
      this.#finish(reason);
    });
  }

  #resetAdmission() {
    this.#admitted = new Promise((resolve) => (this.#markAdmitted = resolve));
  }

  #addPeer(peer: PeerInfo) {
    this.peers.set(peer.peerId, peer);
    this.emit('peerJoined', peer);
  }

  #finish(reason: string) {
    if (this.status === 'closed') return;
    this.status = 'closed';
    this.media.stop(); // whatever ended the call (left, denied, removed, room closed), the camera light goes off
    this.session.end(reason);
    this.emit('closed', reason);
  }
}
