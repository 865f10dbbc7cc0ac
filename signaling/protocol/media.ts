import { z } from 'zod';
import type { NetworkQualityDelta } from './room-deltas.ts';

// mediasoup validates RTP structures in depth; here we check the shape and bound the size.
const id = z.string().min(1).max(64);
const dtlsParameters = z.looseObject({
  role: z.enum(['auto', 'client', 'server']).optional(),
  fingerprints: z
    .array(z.object({ algorithm: z.string().max(16), value: z.string().max(256) }))
    .min(1)
    .max(8),
});
const rtpParameters = z.looseObject({
  codecs: z
    .array(z.looseObject({ mimeType: z.string().max(64), payloadType: z.number().int() }))
    .min(1)
    .max(16),
  encodings: z.array(z.looseObject({})).max(8).optional(),
});
export const rtpCapabilitiesSchema = z.looseObject({
  codecs: z.array(z.looseObject({ mimeType: z.string().max(64), kind: z.enum(['audio', 'video']) })).max(64),
  headerExtensions: z.array(z.looseObject({})).max(64).optional(),
});
export const mediaSources = ['mic', 'webcam', 'screen'] as const;

/** Media requests: transports, producing and consuming, link stats. All but the first need an admitted participant. */
export const mediaRequestSchemas = {
  /** What the SFU's routers can receive, for the client's Device; answered without creating a room. */
  getRouterRtpCapabilities: z.object({}),
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
  reportStats: z.object({
    rttMs: z.number().min(0).max(60_000),
    packetLossPct: z.number().min(0).max(100),
    jitterMs: z.number().min(0).max(10_000).optional(),
  }),
} as const;

export type MediaMethod = keyof typeof mediaRequestSchemas;

export type ProducerInfo = {
  peerId: string;
  producerId: string;
  kind: 'audio' | 'video';
  source: string;
  paused: boolean;
};
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

export type MediaResponses = {
  getRouterRtpCapabilities: { rtpCapabilities: unknown };
  createTransport: { id: string; iceParameters: unknown; iceCandidates: unknown[]; dtlsParameters: unknown };
  connectTransport: Record<string, never>;
  produce: { producerId: string };
  closeProducer: Record<string, never>;
  pauseProducer: Record<string, never>;
  resumeProducer: Record<string, never>;
  consume: { consumerId: string; producerId: string; kind: 'audio' | 'video'; rtpParameters: unknown };
  resumeConsumer: Record<string, never>;
  setConsumerPreferredLayers: Record<string, never>;
  restartIce: { iceParameters: unknown };
  /** What to consume again on the new transports. */
  resetTransports: { producers: ProducerInfo[] };
  reportStats: Record<string, never>;
};

export type MediaNotifications = {
  newProducer: ProducerInfo;
  consumerClosed: { consumerId: string };
  producerPaused: { peerId: string; producerId: string; by: string };
  producerResumed: { peerId: string; producerId: string };
  consumerLayersChanged: { consumerId: string; spatialLayer: number | null; temporalLayer: number | null };
  activeSpeaker: { peerId: string };
  /** Link quality of the members whose quality changed (see room-deltas.ts). */
  networkQuality: NetworkQualityDelta;
  /** The media server of the room was replaced: recreate transports, producers and consumers. */
  mediaReset: { reason: string };
};
