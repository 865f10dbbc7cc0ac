import type { Bus } from '../bus/types.ts';
import type { MessageAudience } from '../../db/schema/index.ts';

/**
 * What travels on a conversation's bus channel after a commit. Bodies travel sealed (base64 of the
 * stored envelope), so Redis never holds message text; each subscribing node opens them with its
 * own key cache. The database stays the source of truth: a member that missed an event asks for
 * everything after its last seq.
 */
export type ConversationEvent =
  | {
      type: 'message';
      conversationId: string;
      seq: number;
      id: string;
      senderId: string;
      senderKind: 'user' | 'guest';
      audience: MessageAudience;
      sealed: string;
      createdAt: string;
    }
  | { type: 'edited'; conversationId: string; seq: number; id: string; sealed: string; at: string }
  | { type: 'deleted'; conversationId: string; seq: number; id: string; at: string }
  | { type: 'receipt'; conversationId: string; memberId: string; kind: 'delivered' | 'read'; seq: number }
  /** Ephemeral: never stored. */
  | { type: 'typing'; conversationId: string; memberId: string; typing: boolean };

export const conversationChannel = (conversationId: string) => `chat:${conversationId}`;

/**
 * Publishes conversation events and hands them to local listeners. One bus subscription per
 * conversation per node, shared by its listeners, so a thousand sockets in one room cost one
 * Redis subscription.
 */
export class ConversationFanOut {
  readonly #listeners = new Map<
    string,
    { set: Set<(e: ConversationEvent) => void>; ready: Promise<() => Promise<void>> }
  >();

  constructor(
    private readonly bus: Bus | undefined,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** After commit. A failed publish is logged, not thrown: the sender got its ack, members catch up by seq. */
  publish(event: ConversationEvent): void {
    if (!this.bus) {
      for (const l of this.#listeners.get(event.conversationId)?.set ?? []) l(event);
      return;
    }
    this.bus.publish(conversationChannel(event.conversationId), event).catch(this.onError);
  }

  async subscribe(
    conversationId: string,
    listener: (e: ConversationEvent) => void,
  ): Promise<() => Promise<void>> {
    let entry = this.#listeners.get(conversationId);
    if (!entry) {
      const set = new Set<(e: ConversationEvent) => void>();
      const ready = this.bus
        ? this.bus.subscribe(conversationChannel(conversationId), (m) => {
            for (const l of set) l(m as ConversationEvent);
          })
        : Promise.resolve(async () => {});
      entry = { set, ready };
      this.#listeners.set(conversationId, entry);
    }
    entry.set.add(listener);
    const current = entry;
    try {
      await current.ready;
    } catch (err) {
      current.set.delete(listener);
      if (this.#listeners.get(conversationId) === current && current.set.size === 0)
        this.#listeners.delete(conversationId);
      throw err;
    }
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      current.set.delete(listener);
      if (current.set.size === 0 && this.#listeners.get(conversationId) === current) {
        this.#listeners.delete(conversationId);
        await (
          await current.ready
        )();
      }
    };
  }
}
