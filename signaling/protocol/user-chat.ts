import { z } from 'zod';
import { chatRequestSchemas, type ChatNotifications, type ChatResponses } from './chat.ts';
import type { ErrorBody } from './messages.ts';

/**
 * The user connection: one WebSocket per signed-in device that carries all of a user's
 * conversations (care threads, and the room conversations they may read), on no call at all.
 * Same frames as the room socket (request with id / response / notification, zod at the edge);
 * every chat request names its conversation.
 */
export const USER_SOCKET_PATH = '/ws/user';

/**
 * The API access token travels as a subprotocol, never in the URL (URLs end up in access logs):
 *
 *   Sec-WebSocket-Protocol: carecall.user, carecall.bearer.<access token>
 *
 * The server selects `carecall.user` only: the token is never echoed back.
 */
export const USER_SUBPROTOCOL = 'carecall.user';
const BEARER_PREFIX = 'carecall.bearer.';

/** The subprotocol list a client offers for this access token. */
export function userSocketProtocols(accessToken: string): string[] {
  return [USER_SUBPROTOCOL, `${BEARER_PREFIX}${accessToken}`];
}

export type UserCredentialParse =
  { ok: true; accessToken: string } | { ok: false; reason: 'missing' | 'no_subprotocol' | 'malformed' };

const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** Reads the access token from a Sec-WebSocket-Protocol header value (comma-separated list). */
export function parseUserSocketProtocols(header: string | null | undefined): UserCredentialParse {
  const offered = (header ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const bearers = offered.filter((p) => p.startsWith(BEARER_PREFIX));
  if (!bearers.length) return { ok: false, reason: 'missing' };
  if (!offered.includes(USER_SUBPROTOCOL)) return { ok: false, reason: 'no_subprotocol' };
  const token = bearers.length === 1 ? bearers[0]!.slice(BEARER_PREFIX.length) : '';
  return JWT.test(token) ? { ok: true, accessToken: token } : { ok: false, reason: 'malformed' };
}

const conversationId = z.string().uuid();
/** On the user socket a chat frame always names its conversation (the room socket's own is implied). */
const named = <S extends z.ZodObject<{ conversationId: z.ZodOptional<z.ZodString> }>>(schema: S) =>
  schema.extend({ conversationId });

/** Client -> server requests on the user socket, keyed by method. */
export const userRequestSchemas = {
  'chat.send': named(chatRequestSchemas['chat.send']),
  'chat.after': named(chatRequestSchemas['chat.after']),
  'chat.history': named(chatRequestSchemas['chat.history']),
  'chat.read': named(chatRequestSchemas['chat.read']),
  'chat.delivered': named(chatRequestSchemas['chat.delivered']),
  'chat.typing': named(chatRequestSchemas['chat.typing']),
  'chat.edit': named(chatRequestSchemas['chat.edit']),
  'chat.delete': named(chatRequestSchemas['chat.delete']),
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
  kind: 'room' | 'care';
  clinicId: string;
  appointmentId: string | null;
  doctorId: string;
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

/** Sockets one account may hold at once across its devices, per node (USER_SOCKET_MAX_PER_USER's default). */
export const DEFAULT_USER_SOCKETS_PER_USER = 5;
/** A client refreshes its token this long before it expires. */
export const USER_TOKEN_REFRESH_LEAD_MS = 30_000;
