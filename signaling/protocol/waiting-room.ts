import { z } from 'zod';
import { rtpCapabilitiesSchema, type ProducerInfo } from './media.ts';
import type { ParticipantInfo } from './moderation.ts';

const id = z.string().min(1).max(64);

/** Entering and leaving a room, and the waiting room in front of it (knock, admit, deny). */
export const waitingRoomRequestSchemas = {
  /** Hosts enter at once; everyone else knocks and waits to be admitted. */
  join: z.object({ rtpCapabilities: rtpCapabilitiesSchema }),
  admit: z.object({ peerId: id }),
  admitAll: z.object({}),
  deny: z.object({ peerId: id }),
  leave: z.object({}),
} as const;

export type WaitingRoomMethod = keyof typeof waitingRoomRequestSchemas;

export type PeerInfo = { peerId: string; role: string; displayName: string | undefined };
export type WaitingInfo = PeerInfo & { since: string };
/** STUN/TURN servers for the client's transports, with credentials minted for this participant. */
export type IceServerInfo = { urls: string[]; username?: string; credential?: string };
/** Everything an admitted participant needs to start media; sent on join or on admission. */
export type RoomState = {
  peers: PeerInfo[];
  producers: ProducerInfo[];
  waiting: WaitingInfo[];
  /** The list when this was built; clients keep the list from the `participants` frames instead. */
  participants?: ParticipantInfo[];
};

export type WaitingRoomResponses = {
  join: {
    peerId: string;
    status: 'waiting' | 'admitted';
    resumeKey: string;
    iceServers: IceServerInfo[];
  } & RoomState;
  admit: Record<string, never>;
  admitAll: { admitted: number };
  deny: Record<string, never>;
  leave: Record<string, never>;
};

export type WaitingRoomNotifications = {
  peerJoined: PeerInfo;
  peerLeft: { peerId: string };
  /** To moderators: who is in the waiting room now. */
  waitingRoom: { waiting: WaitingInfo[] };
  /** To a waiting participant: you are in; start media. */
  admitted: RoomState;
  denied: { reason: string };
  roomClosed: { reason: string };
};
