import { z } from 'zod';

/**
 * What the people concerned by a live chat hear about it on their user socket (notification
 * 'livechat.event'): the patient (their place moved, someone took the chat, it was closed) and
 * staff (a chat assigned or handed to them, or taken back unanswered). Ids and states only: no
 * message text, no names; the messages themselves arrive as chat.message on the conversation.
 */
export const liveChatEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('livechat.assigned'), conversationId: z.string(), assigneeId: z.string() }),
  z.object({
    type: z.literal('livechat.transferred'),
    conversationId: z.string(),
    fromId: z.string(),
    assigneeId: z.string(),
  }),
  z.object({
    type: z.literal('livechat.queue_position'),
    conversationId: z.string(),
    position: z.number().int().positive(),
  }),
  z.object({ type: z.literal('livechat.requeued'), conversationId: z.string() }),
  z.object({ type: z.literal('livechat.closed'), conversationId: z.string(), resolution: z.string() }),
]);
export type LiveChatEvent = z.infer<typeof liveChatEventSchema>;
