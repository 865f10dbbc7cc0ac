import { z } from 'zod';

/** A message id is the sender's own lower-case UUID: a retried send with the same id is stored once. */
const clientId = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
const seq = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
/**
 * The text is checked for size and content by the server's messaging limits (MESSAGE_MAX_BYTES, in
 * UTF-8 bytes); this bound only stops absurd frames before they reach it.
 */
const body = z.string().max(64 * 1024);
/** On the user socket every frame names its conversation; on the room socket it is the room's own. */
const conversationId = z.string().uuid().optional();

/** Chat requests, on the room socket (the room's conversation) and on the user socket (any of the user's). */
export const chatRequestSchemas = {
  /** Answers with the stored seq; a retry with the same clientId answers the same seq (duplicate: true). */
  'chat.send': z.object({ conversationId, clientId, body }),
  /**
   * Catch-up after a reconnect, and the start of live delivery: the messages after `seq`, oldest
   * first, and the older ones edited or deleted after the change watermark `changesAfter`.
   */
  'chat.after': z.object({
    conversationId,
    seq,
    changesAfter: seq.optional(),
    limit: z.number().int().min(1).max(200).optional(),
  }),
  /** Newest first, before the cursor (a seq): older pages of any depth. */
  'chat.history': z.object({
    conversationId,
    before: seq.optional(),
    limit: z.number().int().min(1).max(200).optional(),
  }),
  /** Read up to `seq` (implies delivered); watermarks only move forward. */
  'chat.read': z.object({ conversationId, seq }),
  'chat.delivered': z.object({ conversationId, seq }),
  'chat.typing': z.object({ conversationId, typing: z.boolean().optional() }),
  'chat.edit': z.object({ conversationId, id: clientId, body }),
  'chat.delete': z.object({ conversationId, id: clientId }),
} as const;

export type ChatMethod = keyof typeof chatRequestSchemas;

/** A message as a member sees it: a deleted one keeps its place without its text. */
export type ChatMessageInfo = {
  conversationId: string;
  seq: number;
  id: string;
  senderId: string;
  senderKind: 'user' | 'guest';
  /** 'hosts': written from the waiting room, seen by the hosts and its sender. 'staff': a live chat's internal note, never shown to the patient. */
  audience: 'all' | 'hosts' | 'staff';
  body: string | null;
  createdAt: string;
  edited: boolean;
  deleted: boolean;
  /** The conversation's change number of its latest edit or delete (0 or absent: unchanged). */
  change?: number;
};

/** One catch-up page: ask again from `through` and `changesThrough` while `more`. */
export type ChatCatchUp = {
  conversationId: string;
  messages: ChatMessageInfo[];
  /** Every seq up to here was returned (or is not for this member). */
  through: number;
  /** Messages at or before the requested seq, edited or deleted since `changesAfter`, in change order. */
  changes: ChatMessageInfo[];
  changesThrough: number;
  more: boolean;
};

export type ChatSendAck = {
  conversationId: string;
  id: string;
  seq: number;
  createdAt: string;
  duplicate: boolean;
};

export type ChatResponses = {
  'chat.send': ChatSendAck;
  'chat.after': ChatCatchUp;
  'chat.history': { conversationId: string; messages: ChatMessageInfo[]; nextBefore: number | null };
  'chat.read': { seq: number };
  'chat.delivered': { seq: number };
  'chat.typing': Record<string, never>;
  'chat.edit': ChatMessageInfo;
  'chat.delete': Record<string, never>;
};

export type ChatNotifications = {
  'chat.message': ChatMessageInfo;
  'chat.receipt': { conversationId: string; memberId: string; kind: 'delivered' | 'read'; seq: number };
  'chat.typing': { conversationId: string; memberId: string; typing: boolean };
  /** An edit (body set) or a deletion (deleted: true, body null) of the message at `seq`. */
  'chat.edited': {
    conversationId: string;
    seq: number;
    id: string;
    /** The conversation's change number: gap-free, so one past the client's watermark moves it. */
    change: number;
    body: string | null;
    deleted: boolean;
    at: string;
  };
};
