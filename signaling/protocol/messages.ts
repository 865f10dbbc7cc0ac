import { z } from 'zod';
import { chatRequestSchemas, type ChatNotifications, type ChatResponses } from './chat.ts';
import type { ClusterNotifications } from './cluster.ts';
import type { ErrorCode } from './errors.ts';
import { fileRequestSchemas, type FileResponses } from './files.ts';
import { mediaRequestSchemas, type MediaNotifications, type MediaResponses } from './media.ts';
import {
  moderationRequestSchemas,
  type ModerationNotifications,
  type ModerationResponses,
} from './moderation.ts';
import {
  waitingRoomRequestSchemas,
  type WaitingRoomNotifications,
  type WaitingRoomResponses,
} from './waiting-room.ts';

/*
 * The request map is the union of the features' own maps (media.ts, waiting-room.ts,
 * moderation.ts): a feature that adds requests (chat, files, queues) adds its file and one spread.
 */

/** Client -> server requests, keyed by method. */
export const requestSchemas = {
  ...waitingRoomRequestSchemas,
  ...mediaRequestSchemas,
  ...moderationRequestSchemas,
  ...chatRequestSchemas,
  ...fileRequestSchemas,
} as const;

type Disjoint<A, B> = [Extract<keyof A, keyof B>] extends [never] ? true : false;
/** Two features naming the same method would silently replace one another's schema: a type error instead. */
const featuresAreDisjoint: [
  Disjoint<typeof waitingRoomRequestSchemas, typeof mediaRequestSchemas>,
  Disjoint<typeof waitingRoomRequestSchemas, typeof moderationRequestSchemas>,
  Disjoint<typeof mediaRequestSchemas, typeof moderationRequestSchemas>,
  Disjoint<typeof chatRequestSchemas, typeof waitingRoomRequestSchemas>,
  Disjoint<typeof chatRequestSchemas, typeof mediaRequestSchemas>,
  Disjoint<typeof chatRequestSchemas, typeof moderationRequestSchemas>,
  Disjoint<typeof fileRequestSchemas, typeof chatRequestSchemas>,
  Disjoint<typeof fileRequestSchemas, typeof mediaRequestSchemas>,
] = [true, true, true, true, true, true, true, true];
void featuresAreDisjoint;

export type Method = keyof typeof requestSchemas;
export type RequestData<M extends Method> = z.infer<(typeof requestSchemas)[M]>;

// Response data is produced by our own server; the client trusts these types.
export type ResponseData = WaitingRoomResponses &
  MediaResponses &
  ModerationResponses &
  ChatResponses &
  FileResponses;

/** Server -> client notifications, keyed by method. */
export type Notifications = WaitingRoomNotifications &
  MediaNotifications &
  ModerationNotifications &
  ChatNotifications &
  ClusterNotifications;

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
