import { z } from 'zod';

/*
 * Room-wide state (the participant list, everyone's link quality) travels as changes: a frame names
 * the members whose entry changed and the ones whose entry went away, so a frame costs what changed,
 * not the size of the room (a full list to every member is O(N^2) bytes per round: about 590 MB in
 * one measurement window at 400 members). An admitted member first gets both whole lists (`full`)
 * in its ordered notification stream, so every later change applies on top of them whatever the
 * join answer's timing; resumption replays the missed frames in order, so a resumed client stays exact.
 * These schemas are the contract; the server produces the frames, tests and tools validate them.
 */

const peerId = z.string().min(1).max(128);
const mediaState = z.enum(['none', 'live', 'muted', 'muted_by_host']);

export const networkQualitySchema = z.object({
  peerId,
  /** mediasoup scores 0-10 of what the server receives from / sends to the member (null: nothing flows). */
  uplink: z.number().min(0).max(10).nullable(),
  downlink: z.number().min(0).max(10).nullable(),
  rttMs: z.number().min(0).nullable(),
  packetLossPct: z.number().min(0).max(100).nullable(),
  quality: z.enum(['excellent', 'good', 'poor', 'bad']),
});

export const participantInfoSchema = z.object({
  peerId,
  role: z.string(),
  displayName: z.string().optional(),
  /** May admit, mute and remove others. */
  host: z.boolean(),
  mic: mediaState,
  webcam: mediaState,
  screen: mediaState,
});

/**
 * `full`: the rows are the whole list and replace what the client has (sent once on admission).
 * Otherwise the rows are upserted by peerId and `gone` removed.
 */
export const networkQualityDeltaSchema = z.object({
  full: z.boolean(),
  peers: z.array(networkQualitySchema),
  gone: z.array(peerId),
});
export const participantsDeltaSchema = z.object({
  full: z.boolean(),
  participants: z.array(participantInfoSchema),
  gone: z.array(peerId),
});

export type NetworkQualityDelta = z.infer<typeof networkQualityDeltaSchema>;
export type ParticipantsDelta = z.infer<typeof participantsDeltaSchema>;
