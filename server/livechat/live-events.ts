import { z } from 'zod';
import type { ClusterBus } from '../cluster/cluster-bus.ts';

/**
 * What the people concerned by a live chat hear about it, keyed by user id on the bus: the patient
 * (their place moved, someone took the chat, it was closed) and staff (a chat assigned or handed
 * to them). Ids and states only: no message text, no names.
 */
export const liveChatEventSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('livechat.assigned'),
    conversationId: z.string(),
    assigneeId: z.string(),
  }),
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

/** Publishes live chat events to users on every node (or in-process without a bus). */
export class LiveChatEvents {
  readonly #local = new Map<string, Set<(e: LiveChatEvent) => void>>();

  constructor(
    private readonly bus: ClusterBus | undefined,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** After commit; a lost event costs a client a refresh of the chat's state, never a message. */
  publish(userId: string, event: LiveChatEvent): void {
    if (!this.bus) {
      for (const l of this.#local.get(userId) ?? []) l(event);
      return;
    }
    this.bus.publish('livechat-events', event, userId).catch(this.onError);
  }

  async subscribe(userId: string, listener: (e: LiveChatEvent) => void): Promise<() => Promise<void>> {
    if (this.bus) return this.bus.subscribe('livechat-events', listener, userId);
    let set = this.#local.get(userId);
    if (!set) this.#local.set(userId, (set = new Set()));
    set.add(listener);
    return async () => {
      set.delete(listener);
      if (!set.size && this.#local.get(userId) === set) this.#local.delete(userId);
    };
  }
}
