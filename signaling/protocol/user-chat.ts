import { z } from 'zod';
import { chatRequestSchemas, type ChatNotifications, type ChatResponses } from './chat.ts';
import type { LiveChatEvent } from './livechat.ts';
import type { ErrorBody } from './messages.ts';

export * from './user-credentials.ts';

/**
 * The user connection: one WebSocket per signed-in device that carries all of a user's
 * conversations (care threads, and the room conversations they may read), on no call at all.
 * Same frames as the room socket (request with id / response / notification, zod at the edge);
 * every chat request names its conversation.
 */

const conversationId = z.string().uuid();

/** Client -> server requests on the user socket, keyed by method; every chat request names its conversation. */
export const userRequestSchemas = {
  'chat.send': chatRequestSchemas['chat.send'].extend({ conversationId }),
  'chat.after': chatRequestSchemas['chat.after'].extend({ conversationId }),
  'chat.history': chatRequestSchemas['chat.history'].extend({ conversationId }),
  'chat.read': chatRequestSchemas['chat.read'].extend({ conversationId }),
  'chat.delivered': chatRequestSchemas['chat.delivered'].extend({ conversationId }),
  'chat.typing': chatRequestSchemas['chat.typing'].extend({ conversationId }),
  'chat.edit': chatRequestSchemas['chat.edit'].extend({ conversationId }),
  'chat.delete': chatRequestSchemas['chat.delete'].extend({ conversationId }),
  /** Every conversation this socket carries, newest activity first, with unread counts. */
  'conversations.list': z.object({}).strict(),
  /**
   * A new access token of the SAME session and user replaces the current one; the socket stays.
   * Without one, the socket is closed (token_expired) when the current token expires.
   */
  'auth.refresh': z.object({ accessToken: z.string().min(1).max(4096) }),
} as const;

export type UserMethod = keyof typeof userRequestSchemas;
export type UserRequestData<M extends UserMethod> = z.infer<(typeof userRequestSchemas)[M]>;

/** A conversation as the user's list shows it. */
export type ConversationInfo = {
  id: string;
  kind: 'room' | 'care' | 'livechat';
  clinicId: string;
  appointmentId: string | null;
  /** A live chat's current staff holder (null while it waits in the queue). */
  doctorId: string | null;
  patientId: string;
  lastSeq: number;
  /** My read watermark. */
  readSeq: number;
  /** Messages for me, not mine, after my read mark. */
  unread: number;
};

export type UserResponses = ChatResponses & {
  'conversations.list': { conversations: ConversationInfo[] };
  /** When the socket closes unless refreshed again (epoch ms). */
  'auth.refresh': { expiresAt: number };
};

export type UserNotifications = ChatNotifications & {
  /**
   * A conversation's counts changed (a message came, I read), or the socket now carries a
   * conversation it did not (created while connected): the whole summary, not a delta.
   */
  'conversation.updated': ConversationInfo;
  /**
   * The socket no longer carries this conversation: the user's membership ended while connected
   * (removed from the clinic, a guardianship ended). Its requests are refused as not_found from now on.
   */
  'conversation.removed': { conversationId: string };
  /** A live chat of mine changed hands, moved in the queue or was closed (see protocol/livechat.ts). */
  'livechat.event': LiveChatEvent;
  /** Sent once, right after the socket opens: who it is for and when its token expires. */
  'user.ready': { userId: string; expiresAt: number; conversations: number };
};

export type UserNotificationFrame<N extends keyof UserNotifications = keyof UserNotifications> = {
  type: 'notification';
  /** Per-connection counter: the user socket does not resume, it reconnects and catches up by seq. */
  seq: number;
  method: N;
  data: UserNotifications[N];
};
export type UserResponseFrame =
  | { type: 'response'; id: number; ok: true; data: unknown }
  | { type: 'response'; id: number; ok: false; error: ErrorBody };
export type UserServerFrame = UserResponseFrame | UserNotificationFrame | { type: 'error'; error: ErrorBody };
