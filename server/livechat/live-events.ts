import { liveChatEventSchema, type LiveChatEvent } from '../../signaling/protocol/livechat.ts';
import type { ClusterBus } from '../cluster/cluster-bus.ts';

export { liveChatEventSchema, type LiveChatEvent };

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
