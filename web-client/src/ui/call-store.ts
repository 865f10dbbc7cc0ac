import type {
  NetworkQuality,
  ParticipantInfo,
  PeerInfo,
  WaitingInfo,
  WaitingStatus,
} from '../../../signaling/protocol/index.ts';
import { t, type MessageKey } from '../i18n/index.ts';
import { RoomClient, type DeviceChoice, type RemoteTrack, type Source } from '../room-client.ts';
import type { BackgroundMode } from '../media/background-effect.ts';
import { BackgroundControl } from './background-control.ts';
import { probe } from './probe.ts';

export type Phase = 'starting' | 'joining' | 'waiting' | 'inCall' | 'closed' | 'left' | 'failed';
export type Banner = {
  id: number;
  key: MessageKey;
  values?: Record<string, string>;
  tone: 'info' | 'warn' | 'error';
};

export type CallState = {
  phase: Phase;
  closedReason: string;
  error: string;
  selfId: string | undefined;
  localVideo: MediaStreamTrack | undefined;
  micMuted: boolean;
  camOff: boolean;
  sharing: boolean;
  /** Sources a host stopped that only a host can release. */
  held: ReadonlySet<Source>;
  remote: ReadonlyMap<string, RemoteTrack>;
  pausedProducers: ReadonlySet<string>;
  peers: ReadonlyMap<string, PeerInfo>;
  participants: ParticipantInfo[];
  waiting: WaitingInfo[];
  waitingStatus: WaitingStatus | undefined;
  /** When the last waiting status arrived (this clock), to count the wait on from it. */
  waitingStatusAt: number;
  banners: Banner[];
  activeSpeaker: string | undefined;
  reconnecting: boolean;
  callStartedAt: number;
  quality: NetworkQuality[];
  /** Off, blur or replace: the pre-call choice at first, changed during the call. */
  background: BackgroundMode;
  /** The effect is being turned on (loading the segmenter). */
  backgroundBusy: boolean;
};

const initial = (): CallState => ({
  phase: 'starting',
  closedReason: '',
  error: '',
  selfId: undefined,
  localVideo: undefined,
  micMuted: false,
  camOff: false,
  sharing: false,
  held: new Set(),
  remote: new Map(),
  pausedProducers: new Set(),
  peers: new Map(),
  participants: [],
  waiting: [],
  waitingStatus: undefined,
  waitingStatusAt: 0,
  banners: [],
  activeSpeaker: undefined,
  reconnecting: false,
  callStartedAt: 0,
  quality: [],
  background: { kind: 'off' },
  backgroundBusy: false,
});

const BANNER_MS = 6000;
let nextBanner = 1;

export type CallStoreOptions = {
  token: string;
  signalingUrl: string;
  choice: DeviceChoice;
  relay: boolean;
  /** The background effect chosen before the call (off when not chosen). */
  background?: BackgroundMode;
  /** A patient knocked (the page plays a sound and may show a notification). */
  onKnock?: (who: WaitingInfo) => void;
};

/**
 * The room page's state, fed by one RoomClient's events; components render from it and call its
 * actions. Leave and rejoin make a new RoomClient with the same link.
 */
export class CallStore {
  state: CallState = initial();
  client!: RoomClient;
  readonly #listeners = new Set<() => void>();
  #knownWaiting = new Set<string>();
  readonly background = new BackgroundControl();
  /** Survives a rejoin: the last choice, the pre-call one at first. */
  #wantedBackground: BackgroundMode;

  constructor(private readonly opts: CallStoreOptions) {
    probe.background = this.background;
    this.#wantedBackground = opts.background ?? { kind: 'off' };
  }

  subscribe(listener: () => void) {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  #set(patch: Partial<CallState>) {
    this.state = { ...this.state, ...patch };
    for (const l of this.#listeners) l();
  }

  banner(key: MessageKey, tone: Banner['tone'] = 'info', values?: Record<string, string>, sticky = false) {
    const banner: Banner = { id: nextBanner++, key, tone, ...(values ? { values } : {}) };
    this.#set({ banners: [...this.state.banners.filter((b) => b.key !== key), banner] });
    if (!sticky) setTimeout(() => this.dismiss(banner.id), BANNER_MS);
  }

  dismiss(id: number) {
    this.#set({ banners: this.state.banners.filter((b) => b.id !== id) });
  }

  #nameOf(peerId: string) {
    const p = this.state.peers.get(peerId) ?? this.state.participants.find((x) => x.peerId === peerId);
    return p?.displayName ?? p?.role ?? peerId;
  }

  async start() {
    const client = this.#createClient();
    this.client = client;
    probe.client = client;
    const [media] = await Promise.all([
      client.openLocalMedia(this.opts.choice),
      client.prepare().catch(() => undefined),
    ]);
    const [audio] = media.getAudioTracks();
    const [camera] = media.getVideoTracks();
    const video = camera && (await this.#withBackground(camera, this.#wantedBackground));
    this.#set({ phase: 'joining', localVideo: video });
    probe.joinStartedAt = performance.now();
    await client.join();
    probe.joinedAt = performance.now();
    this.#set({ selfId: client.peerId });
    await client.whenAdmitted();
    if (audio) await client.publish(audio, 'mic');
    if (video) await client.publish(video, 'webcam');
    this.#set({ micMuted: client.isPaused('mic'), camOff: client.isPaused('webcam') });
  }

  /** The camera track to send under `mode`; an effect that cannot start leaves the camera as it is. */
  async #withBackground(camera: MediaStreamTrack, mode: BackgroundMode = { kind: 'off' }) {
    if (mode.kind === 'off') return camera;
    this.#set({ backgroundBusy: true });
    try {
      const track = await this.background.outputFor(camera, mode);
      this.#set({ background: mode });
      return track;
    } catch (err) {
      this.#backgroundFailed(err);
      return camera;
    } finally {
      this.#set({ backgroundBusy: false });
    }
  }

  /** Background off, blur or replace during the call: same producer, another track. */
  async setBackground(mode: BackgroundMode) {
    this.#wantedBackground = mode;
    if (!this.client || this.state.phase !== 'inCall') {
      return this.#set({ background: mode });
    }
    this.#set({ backgroundBusy: true });
    try {
      const track = await this.background.apply(this.client, mode);
      this.#set({ background: mode, ...(track ? { localVideo: track } : {}) });
    } catch (err) {
      this.#backgroundFailed(err);
      this.#set({ localVideo: this.client.devices.track('webcam') });
    } finally {
      this.#set({ backgroundBusy: false });
    }
  }

  #backgroundFailed(err: unknown) {
    probe.events.push(`background:failed:${(err as { code?: string }).code ?? 'error'}`);
    console.error('background effect:', err instanceof Error ? err.message : String(err));
    this.#wantedBackground = { kind: 'off' };
    this.#set({ background: { kind: 'off' } });
    this.banner('banner.backgroundFailed', 'error');
  }

  /** A fresh start in the same room with the same link (after leaving or after the call closed). */
  async rejoin() {
    this.#knownWaiting = new Set();
    this.state = { ...initial(), phase: 'starting' };
    this.#set({});
    await this.start().catch((err: unknown) => this.fail(err));
  }

  fail(err: unknown) {
    const message = err instanceof Error ? err.message : String(err);
    probe.error = message;
    // A host removed this identity: the join is refused; show it as the removal it is.
    if (/removed_by_host/.test(message)) return this.#closed('removed_by_host');
    this.#set({ phase: 'failed', error: message });
  }

  leave() {
    this.client.leave();
    this.background.stop();
    probe.status = 'left';
    this.#set({ phase: 'left', remote: new Map(), localVideo: undefined, sharing: false });
  }

  async toggle(source: 'mic' | 'webcam') {
    const paused = !this.client.isPaused(source);
    try {
      await this.client.setPaused(source, paused);
    } catch (err) {
      // A host holds this source: put the producer back as the server has it.
      this.client.published.get(source)?.producer?.pause();
      this.banner(source === 'webcam' ? 'banner.cameraStoppedByHost' : 'banner.error', 'warn', {
        error: String((err as Error).message),
      });
    }
    this.#set({ micMuted: this.client.isPaused('mic'), camOff: this.client.isPaused('webcam') });
  }

  async toggleShare(getDisplayMedia: () => Promise<MediaStream>) {
    if (this.client.published.has('screen')) {
      await this.client.unpublish('screen');
      return this.#set({ sharing: false });
    }
    const [track] = (await getDisplayMedia()).getVideoTracks();
    if (!track) return;
    track.addEventListener(
      'ended',
      () => void this.client.unpublish('screen').then(() => this.#set({ sharing: false })),
    );
    try {
      await this.client.publish(track, 'screen');
      this.#set({ sharing: true });
    } catch (err) {
      track.stop();
      await this.client.unpublish('screen').catch(() => undefined);
      this.banner('banner.screenStoppedByHost', 'warn');
      throw err;
    }
  }

  async switchDevice(kind: MediaDeviceKind, deviceId: string) {
    const track =
      kind === 'videoinput'
        ? await this.background.switchCamera(this.client, deviceId)
        : await this.client.switchDevice(kind, deviceId);
    if (kind === 'videoinput' && track) this.#set({ localVideo: track });
  }

  // ---- host actions (requests the server authorizes) ----
  mute(peerId: string, source: Source) {
    return this.client.signaling.request('muteParticipant', { peerId, source });
  }
  release(peerId: string, source: Source) {
    return this.client.signaling.request('releaseMute', { peerId, source });
  }
  remove(peerId: string) {
    return this.client.signaling.request('removeParticipant', { peerId });
  }
  endForEveryone() {
    return this.client.signaling.request('endForEveryone', {});
  }
  messageWaiting(text: string, peerId?: string) {
    return this.client.signaling.request('messageWaiting', peerId ? { text, peerId } : { text });
  }

  #closed(reason: string) {
    probe.status = `closed:${reason}`;
    const key: MessageKey | undefined =
      reason === 'removed_by_host'
        ? 'banner.removed'
        : reason === 'ended_by_host'
          ? 'banner.ended'
          : reason === 'denied'
            ? 'banner.denied'
            : undefined;
    if (key) this.banner(key, 'warn', undefined, true);
    this.background.stop();
    this.#set({
      phase: 'closed',
      closedReason: reason,
      remote: new Map(),
      localVideo: undefined,
      sharing: false,
      reconnecting: false,
    });
  }

  #createClient() {
    const note = (e: string) => probe.events.push(e);
    const remote = () => new Map(this.state.remote);
    const client: RoomClient = new RoomClient({
      signalingUrl: this.opts.signalingUrl,
      token: this.opts.token,
      createSocket: (url, protocols) => new WebSocket(url, protocols) as never,
      mediaDevices: navigator.mediaDevices,
      iceTransportPolicy: this.opts.relay ? 'relay' : 'all',
      events: {
        waiting: () => ((probe.status = 'waiting'), this.#set({ phase: 'waiting' })),
        admitted: () => {
          probe.status = 'admitted';
          probe.admittedAt = performance.now();
          this.#set({ phase: 'inCall', callStartedAt: Date.now(), waitingStatus: undefined });
        },
        waitingRoom: (waiting) => {
          for (const w of waiting) if (!this.#knownWaiting.has(w.peerId)) this.opts.onKnock?.(w);
          this.#knownWaiting = new Set(waiting.map((w) => w.peerId));
          this.#set({ waiting });
        },
        waitingStatus: (status) => this.#set({ waitingStatus: status, waitingStatusAt: Date.now() }),
        participants: (participants) => {
          const held = new Set<Source>();
          const me = participants.find((p) => p.peerId === client.peerId);
          if (me?.webcam === 'muted_by_host') held.add('webcam');
          if (me?.screen === 'muted_by_host') held.add('screen');
          this.#set({ participants, held });
        },
        peerJoined: (peer) => this.#set({ peers: new Map(this.state.peers).set(peer.peerId, peer) }),
        peerLeft: (peerId) => {
          const name = this.#nameOf(peerId);
          const peers = new Map(this.state.peers);
          peers.delete(peerId);
          const r = remote();
          for (const [id, track] of r) if (track.peerId === peerId) r.delete(id);
          this.#set({ peers, remote: r });
          if (this.state.phase === 'inCall') this.banner('banner.otherLeft', 'info', { name });
        },
        remoteTrack: (track) => {
          // A producer paused before this consumer existed is announced only in the track itself.
          const paused = new Set(this.state.pausedProducers);
          if (track.paused) paused.add(track.producerId);
          this.#set({ remote: remote().set(track.consumerId, track), pausedProducers: paused });
        },
        remoteTrackEnded: (consumerId) => {
          const r = remote();
          r.delete(consumerId);
          this.#set({ remote: r });
        },
        remotePaused: (producerId, paused) => {
          const set = new Set(this.state.pausedProducers);
          if (paused) set.add(producerId);
          else set.delete(producerId);
          this.#set({ pausedProducers: set });
        },
        networkQuality: (peers) => ((probe.quality = peers), this.#set({ quality: peers })),
        activeSpeaker: (peerId) => {
          if (!probe.events.includes(`activeSpeaker:${peerId}`)) note(`activeSpeaker:${peerId}`);
          this.#set({ activeSpeaker: peerId });
        },
        mutedBy: (source) => {
          note(`mutedBy:${source}`);
          this.#set({ micMuted: client.isPaused('mic'), camOff: client.isPaused('webcam') });
          if (source === 'mic') this.banner('banner.mutedByHost', 'warn');
          else if (source === 'webcam') this.banner('banner.cameraStoppedByHost', 'warn');
          else {
            this.banner('banner.screenStoppedByHost', 'warn');
            void client.unpublish('screen').then(() => this.#set({ sharing: false }));
          }
        },
        muteReleased: (source) => this.banner('banner.released', 'info', { source: t(`source.${source}`) }),
        connection: (state) => {
          note(`connection:${state}`);
          if (state === 'reconnecting') this.#set({ reconnecting: true });
          else if (state !== 'iceRestart') {
            if (this.state.reconnecting) this.banner('banner.reconnected');
            this.#set({ reconnecting: false });
          }
        },
        mediaReset: () => note('mediaReset'),
        localTrack: (source, track) => {
          note(`localTrack:${source}`);
          // With an effect on, the self view keeps showing what is sent (set once the switch is done).
          if (source === 'webcam' && this.state.background.kind === 'off') this.#set({ localVideo: track });
        },
        layersChanged: (consumerId, spatialLayer) => note(`layers:${consumerId}:${spatialLayer}`),
        closed: (reason) => {
          if (reason === 'left') return;
          this.#closed(reason);
        },
        error: (err) => console.error('call error:', err.message),
      },
    });
    return client;
  }
}
