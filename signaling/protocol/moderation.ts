import { z } from 'zod';
import type { ParticipantsDelta } from './room-deltas.ts';
import type { PeerInfo } from './waiting-room.ts';

const id = z.string().min(1).max(64);
const source = z.enum(['mic', 'webcam', 'screen']);

/** Longest host -> waiting-room message, in characters ("5 more minutes, please"). */
export const WAITING_MESSAGE_MAX_CHARS = 200;
/** A host may send this many waiting-room messages at once, then one per refill interval. */
export const WAITING_MESSAGE_BURST = 5;
export const WAITING_MESSAGE_REFILL_MS = 6000;

/** Host requests: moderation of admitted participants and messages to the waiting room. */
export const moderationRequestSchemas = {
  /** Pauses a participant's producers of one source; see MutedByHost for who may resume them. */
  muteParticipant: z.object({ peerId: id, source: source.default('mic') }),
  /** Lets a participant whose camera or screen share a host stopped turn it on again. */
  releaseMute: z.object({ peerId: id, source }),
  /** Closes the participant's connection (removed_by_host); the same identity cannot rejoin this room. */
  removeParticipant: z.object({ peerId: id }),
  /** Ends the consultation for everyone: every connection closes (ended_by_host), media stops. */
  endForEveryone: z.object({}),
  /** A short note to one waiting participant, or to everyone waiting when peerId is left out. */
  messageWaiting: z.object({
    peerId: id.optional(),
    text: z.string().trim().min(1).max(WAITING_MESSAGE_MAX_CHARS),
  }),
} as const;

export type ModerationMethod = keyof typeof moderationRequestSchemas;

/**
 * 'none': not published; 'muted': paused by its owner (or a host mute the owner may lift, audio);
 * 'muted_by_host': a host stopped it and only a host can release it (camera, screen share).
 */
export type MediaState = 'none' | 'live' | 'muted' | 'muted_by_host';
/** One row of the participant list every admitted member sees (itself included). */
export type ParticipantInfo = PeerInfo & {
  /** May admit, mute and remove others. */
  host: boolean;
  mic: MediaState;
  webcam: MediaState;
  screen: MediaState;
};

/** What a waiting participant is told about its wait; resent whenever any of it changes. */
export type WaitingStatus = {
  /** 1 = next in line. */
  position: number;
  waitingCount: number;
  /** When this participant started waiting (server clock), and how long ago that was when sent. */
  since: string;
  waitedMs: number;
  /** A host is in the room and has this participant on their waiting list. */
  hostNotified: boolean;
  /** The latest note a host sent this participant. */
  message?: { text: string; at: string } | undefined;
};

export type ModerationResponses = {
  muteParticipant: { muted: number };
  releaseMute: Record<string, never>;
  removeParticipant: Record<string, never>;
  endForEveryone: Record<string, never>;
  messageWaiting: { delivered: number };
};

export type ModerationNotifications = {
  /** Rows of the participant list that changed, and who left it (see room-deltas.ts). */
  participants: ParticipantsDelta;
  /** To a waiting participant: position, wait, whether the host knows, the host's note. */
  waitingStatus: WaitingStatus;
  /**
   * A host paused one of your producers. selfUnmute: you may resume it yourself (audio); otherwise
   * resumeProducer is refused (muted_by_host) until a host releases it (muteReleased).
   */
  mutedBy: { producerId: string; by: string; source?: 'mic' | 'webcam' | 'screen'; selfUnmute?: boolean };
  muteReleased: { source: 'mic' | 'webcam' | 'screen'; by: string };
};
