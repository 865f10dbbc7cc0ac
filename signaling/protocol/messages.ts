import { z } from 'zod';
import type { ErrorCode } from './errors.ts';
import { moderationRequestSchemas, type ModerationNotifications, type ModerationResponses, type ParticipantInfo } from './moderation.ts';

// mediasoup validates RTP structures in depth; here we check the shape and bound the size.
const id = z.string().min(1).max(64);
const rtpCapabilities = z.looseObject({
  codecs: z.array(z.looseObject({ mimeType: z.string().max(64), kind: z.enum(['audio', 'video']) })).max(64),
  headerExtensions: z.array(z.looseObject({})).max(64).optional(),
});
const dtlsParameters = z.looseObject({
  role: z.enum(['auto', 'client', 'server']).optional(),
  fingerprints: z.array(z.object({ algorithm: z.string().max(16), value: z.string().max(256) })).min(1).max(8),
});
const rtpParameters = z.looseObject({
  codecs: z.array(z.looseObject({ mimeType: z.string().max(64), payloadType: z.number().int() })).min(1).max(16),
  encodings: z.array(z.looseObject({})).max(8).optional(),
});
export const mediaSources = ['mic', 'webcam', 'screen'] as const;

/** Client -> server requests, keyed by method. */
export const requestSchemas = {
  getRouterRtpCapabilities: z.object({}),
  join: z.object({ rtpCapabilities }),
  createTransport: z.object({ direction: z.enum(['send', 'recv']) }),
  connectTransport: z.object({ transportId: id, dtlsParameters }),
  produce: z.object({
    transportId: id,
    kind: z.enum(['audio', 'video']),
    rtpParameters,
    source: z.enum(mediaSources),
  }),
  closeProducer: z.object({ producerId: id }),
  pauseProducer: z.object({ producerId: id }),
  resumeProducer: z.object({ producerId: id }),
  consume: z.object({ producerId: id }),
  resumeConsumer: z.object({ consumerId: id }),
  setConsumerPreferredLayers: z.object({
    consumerId: id,
    spatialLayer: z.number().int().min(0).max(2),
    temporalLayer: z.number().int().min(0).max(2).optional(),
  }),
  restartIce: z.object({ transportId: id }),
  /** Drops all of this participant's transports (and so its producers and consumers), to start media afresh. */
  resetTransports: z.object({}),
  admit: z.object({ peerId: id }),
  admitAll: z.object({}),
  deny: z.object({ peerId: id }),
  ...moderationRequestSchemas,
  reportStats: z.object({
    rttMs: z.number().min(0).max(60_000),
    packetLossPct: z.number().min(0).max(100),
    jitterMs: z.number().min(0).max(10_000).optional(),
  }),
  leave: z.object({}),
} as const;

export type Method = keyof typeof requestSchemas;
export type RequestData<M extends Method> = z.infer<(typeof requestSchemas)[M]>;

export type PeerInfo = { peerId: string; role: string; displayName: string | undefined };
export type ProducerInfo = { peerId: string; producerId: string; kind: 'audio' | 'video'; source: string; paused: boolean };
export type WaitingInfo = PeerInfo & { since: string };
/** STUN/TURN servers for the client's transports, with credentials minted for this participant. */
export type IceServerInfo = { urls: string[]; username?: string; credential?: string };
export type ClientStats = { rttMs: number; packetLossPct: number; jitterMs?: number | undefined };
export type QualityLevel = 'excellent' | 'good' | 'poor' | 'bad';
/** uplink/downlink: mediasoup scores 0-10 (null when nothing flows that way). */
export type NetworkQuality = {
  peerId: string;
  uplink: number | null;
  downlink: number | null;
  rttMs: number | null;
  packetLossPct: number | null;
  quality: QualityLevel;
};
/** Everything an admitted participant needs to start media; sent on join or on admission. */
export type RoomState = { peers: PeerInfo[]; producers: ProducerInfo[]; waiting: WaitingInfo[]; participants?: ParticipantInfo[] };

// Response data is produced by our own server; the client trusts these types.
export type ResponseData = ModerationResponses & {
  getRouterRtpCapabilities: { rtpCapabilities: unknown };
  join: { peerId: string; status: 'waiting' | 'admitted'; resumeKey: string; iceServers: IceServerInfo[] } & RoomState;
  createTransport: { id: string; iceParameters: unknown; iceCandidates: unknown[]; dtlsParameters: unknown };
  connectTransport: Record<string, never>;
  produce: { producerId: string };
  closeProducer: Record<string, never>;
  pauseProducer: Record<string, never>;
  resumeProducer: Record<string, never>;
  setConsumerPreferredLayers: Record<string, never>;
  restartIce: { iceParameters: unknown };
  /** What to consume again on the new transports. */
  resetTransports: { producers: ProducerInfo[] };
  admit: Record<string, never>;
  admitAll: { admitted: number };
  deny: Record<string, never>;
  reportStats: Record<string, never>;
  consume: { consumerId: string; producerId: string; kind: 'audio' | 'video'; rtpParameters: unknown };
  resumeConsumer: Record<string, never>;
  leave: Record<string, never>;
};

/** Server -> client notifications, keyed by method. */
export type Notifications = ModerationNotifications & {
  peerJoined: PeerInfo;
  peerLeft: { peerId: string };
  newProducer: ProducerInfo;
  consumerClosed: { consumerId: string };
  producerPaused: { peerId: string; producerId: string; by: string };
  producerResumed: { peerId: string; producerId: string };
  consumerLayersChanged: { consumerId: string; spatialLayer: number | null; temporalLayer: number | null };
  activeSpeaker: { peerId: string };
  networkQuality: { peers: NetworkQuality[] };
  /** To moderators: who is in the waiting room now. */
  waitingRoom: { waiting: WaitingInfo[] };
  /** To a waiting participant: you are in; start media. */
  admitted: RoomState;
  denied: { reason: string };
  /** The media server of the room was replaced: recreate transports, producers and consumers. */
  mediaReset: { reason: string };
  roomClosed: { reason: string };
};

export type ErrorBody = { code: ErrorCode; message: string; issues?: { path: string; message: string }[] };

export const requestFrameSchema = z.object({
  type: z.literal('request'),
  id: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  method: z.string().max(64),
  data: z.unknown().optional(),
});

export type ResponseFrame =
  | { type: 'response'; id: number; ok: true; data: unknown }
  | { type: 'response'; id: number; ok: false; error: ErrorBody };
export type NotificationFrame<N extends keyof Notifications = keyof Notifications> = {
  type: 'notification';
  /** Per-participant sequence number: a resuming client says the last one it saw. */
  seq: number;
  method: N;
  data: Notifications[N];
};
/** For frames that cannot be answered as a response (no readable id). */
export type ErrorFrame = { type: 'error'; error: ErrorBody };
/** First frame on a resumed connection, before missed notifications are replayed. */
export type ResumedFrame = { type: 'resumed'; seq: number };
export type ServerFrame = ResponseFrame | NotificationFrame | ErrorFrame | ResumedFrame;
