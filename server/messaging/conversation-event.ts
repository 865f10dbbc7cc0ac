import { z } from 'zod';
import { MESSAGE_AUDIENCES } from '../../db/schema/index.ts';

const conversationId = z.string().min(1);
const seq = z.number().int().nonnegative();

/**
 * What travels on a conversation's bus channel after a commit. Bodies travel sealed (base64 of the
 * stored envelope), so Redis never holds message text; each subscribing node opens them with its
 * own key cache. The database stays the source of truth: a member that missed an event asks for
 * everything after its last seq.
 */
export const conversationEventSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('message'),
    conversationId,
    seq,
    id: z.string().min(1),
    senderId: z.string(),
    senderKind: z.enum(['user', 'guest']),
    audience: z.enum(MESSAGE_AUDIENCES),
    sealed: z.string(),
    createdAt: z.string(),
  }),
  z.object({
    type: z.literal('edited'),
    conversationId,
    seq,
    id: z.string().min(1),
    /** The conversation's change number (gap-free): a client that holds every one before it may move its watermark. */
    change: seq,
    /** Who may see the message, so an edit reaches only those who see the message itself. */
    senderId: z.string(),
    audience: z.enum(MESSAGE_AUDIENCES),
    sealed: z.string(),
    at: z.string(),
  }),
  z.object({
    type: z.literal('deleted'),
    conversationId,
    seq,
    id: z.string().min(1),
    change: seq,
    senderId: z.string(),
    audience: z.enum(MESSAGE_AUDIENCES),
    at: z.string(),
  }),
  z.object({
    type: z.literal('receipt'),
    conversationId,
    memberId: z.string(),
    kind: z.enum(['delivered', 'read']),
    seq,
  }),
  /** Ephemeral: never stored. */
  z.object({ type: z.literal('typing'), conversationId, memberId: z.string(), typing: z.boolean() }),
]);

export type ConversationEvent = z.infer<typeof conversationEventSchema>;

/**
 * Keyed by member (user id): a conversation that person now belongs to (opened while they may be
 * connected), so their user sockets on every node start carrying it; without one, the person's
 * memberships changed in any way (a clinic membership or guardianship ended or began), so their
 * sockets ask again which conversations they may read, dropping and adding.
 */
export const memberConversationSchema = z.object({ conversationId: z.string().uuid().optional() });
export type MemberConversation = z.infer<typeof memberConversationSchema>;

/** Most events one bus message carries. */
export const MAX_EVENTS_PER_BUS_MESSAGE = 512;

/**
 * What a conversation's bus channel carries: the events one node published in one turn of its
 * event loop (a group-commit batch acks many messages at once), in order, as one message, so a
 * busy conversation costs one publish per batch rather than one per message.
 */
export const conversationEventsSchema = z
  .array(conversationEventSchema)
  .min(1)
  .max(MAX_EVENTS_PER_BUS_MESSAGE);
