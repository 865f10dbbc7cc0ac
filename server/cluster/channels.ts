import type { z } from 'zod';
import { revocationMessageSchema } from '../consultations/revocation-message.ts';
import { roomEventSchema } from '../media/room-events.ts';
import { relayMessageSchema } from './relay-messages.ts';
import { conversationEventsSchema, memberConversationSchema } from '../messaging/conversation-event.ts';
import { sessionEndedSchema } from '../identity/session-ended.ts';
import { liveChatEventSchema } from '../livechat/live-events.ts';

/**
 * Every bus channel and the schema of its payload: one line per channel, nothing else here, so a
 * feature adding its channel touches one line. A message that fails its schema is dropped at the
 * edge (cluster-bus.ts) and never reaches a handler.
 */
export const busChannels = {
  'room-events': roomEventSchema,
  'join-grants': revocationMessageSchema,
  /** Keyed by node id: that node's inbox of relayed signaling. */
  'signal-relay': relayMessageSchema,
  /** Keyed by conversation id: committed chat events and typing, bodies sealed, in order, batched per publisher turn. */
  chat: conversationEventsSchema,
  /** Keyed by user id: a conversation that user now belongs to (their user sockets start carrying it). */
  'chat-members': memberConversationSchema,
  /** Sign-in sessions (or accounts) ended: user sockets standing for them close. */
  'session-ended': sessionEndedSchema,
  /** Keyed by user id: a live chat of theirs was assigned, handed over, closed, or moved in the queue. */
  'livechat-events': liveChatEventSchema,
} as const satisfies Record<string, z.ZodType>;

export type ChannelName = keyof typeof busChannels;
/** What a publisher hands over on a channel. */
export type ChannelInput<C extends ChannelName> = z.input<(typeof busChannels)[C]>;
/** What a subscriber receives on a channel: validated. */
export type ChannelMessage<C extends ChannelName> = z.output<(typeof busChannels)[C]>;
