import type { types } from 'mediasoup-client';
import type {
  NetworkQuality,
  ParticipantInfo,
  PeerInfo,
  WaitingInfo,
  WaitingStatus,
} from '../../signaling/protocol/index.ts';
import type { MediaDevicesLike } from './media/local-devices.ts';
import type { Source } from './media/publications.ts';
import type { SocketFactory } from './signaling-client.ts';

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

/** Every event of a RoomClient: `client.on(name, listener)`, as many listeners as wanted. */
export type RoomClientEventMap = {
  waiting: () => void;
  admitted: () => void;
  waitingRoom: (waiting: WaitingInfo[]) => void;
  peerJoined: (peer: PeerInfo) => void;
  peerLeft: (peerId: string) => void;
  remoteTrack: (remote: RemoteTrack) => void;
  remoteTrackEnded: (consumerId: string) => void;
  remotePaused: (producerId: string, paused: boolean) => void;
  activeSpeaker: (peerId: string) => void;
  networkQuality: (peers: NetworkQuality[]) => void;
  mutedBy: (source: Source, by: string) => void;
  /** Everyone admitted (this participant included) with role and mute state. */
  participants: (participants: ParticipantInfo[]) => void;
  /** While waiting: place in line, time waited, whether a host knows, the host's note. */
  waitingStatus: (status: WaitingStatus) => void;
  /** A host lets this participant turn a source they stopped back on. */
  muteReleased: (source: Source) => void;
  layersChanged: (consumerId: string, spatialLayer: number | null) => void;
  /** 'transportsRebuilt': an ICE restart could not move media to a new path, so transports were made anew. */
  connection: (state: 'reconnecting' | 'resumed' | 'rejoined' | 'iceRestart' | 'transportsRebuilt') => void;
  mediaReset: () => void;
  /** This participant's own track for a source changed (device switch): show it in the self view. */
  localTrack: (source: 'mic' | 'webcam', track: MediaStreamTrack) => void;
  closed: (reason: string) => void;
  /** A background step failed (e.g. consuming a newly announced track). */
  error: (err: Error) => void;
};

/** Listeners to add at construction (the same events, each optional). */
export type RoomClientEvents = Partial<RoomClientEventMap>;

export type RoomClientOptions = {
  /** ws(s)://host/ws */
  signalingUrl: string;
  token: string;
  /** Must pass the protocols on: `(url, protocols) => new WebSocket(url, protocols)` (they carry the token). */
  createSocket: SocketFactory;
  /** Listeners added before anything happens; more can be added with on(). */
  events?: RoomClientEvents;
  /** For non-browser runtimes (werift bots); browsers detect their own handler. */
  handlerFactory?: types.HandlerFactory;
  /** Webcam as three simulcast layers (browsers); off for bots that cannot encode them. */
  simulcast?: boolean;
  /** How often this client reports its link stats to the room (0 = never). */
  statsIntervalMs?: number;
  /** 'relay' sends all media through TURN (networks that must not expose addresses, tests). */
  iceTransportPolicy?: RTCIceTransportPolicy;
  /**
   * Restart ICE as soon as the client's own counters show the network path is gone (default on),
   * instead of waiting for the browser to declare the connection disconnected. Off = the old
   * behaviour, kept as the baseline of the path-change benchmark.
   */
  fastPathRecovery?: boolean;
  /**
   * Where microphone and camera come from: the page passes navigator.mediaDevices (the core never
   * reads browser globals, so the same code runs in Node bots, which pass nothing or their own).
   */
  mediaDevices?: MediaDevicesLike;
};
