import type { ClusterBus } from '../cluster/cluster-bus.ts';
import { MAX_EVENTS_PER_BUS_MESSAGE, type ConversationEvent } from './conversation-event.ts';

export type { ConversationEvent };

/**
 * Publishes conversation events and hands them to local listeners. One bus subscription per
 * conversation per node, shared by its listeners, so a thousand sockets in one room cost one
 * Redis subscription. Events published in one turn of the event loop go out as one bus message
 * per conversation (a committed batch acks hundreds of sends at once), in publish order.
 */
export class ConversationFanOut {
  readonly #listeners = new Map<
    string,
    { set: Set<(e: ConversationEvent) => void>; ready: Promise<() => Promise<void>> }
  >();
  #pending = new Map<string, ConversationEvent[]>();

  readonly #members = new Map<string, Set<(conversationId: string | undefined) => void>>();

  constructor(
    private readonly bus: ClusterBus | undefined,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** After commit. A failed publish is logged, not thrown: the sender got its ack, members catch up by seq. */
  publish(event: ConversationEvent): void {
    if (!this.bus) {
      for (const l of this.#listeners.get(event.conversationId)?.set ?? []) l(event);
      return;
    }
    if (!this.#pending.size) queueMicrotask(() => this.#flush());
    const queued = this.#pending.get(event.conversationId);
    if (queued) queued.push(event);
    else this.#pending.set(event.conversationId, [event]);
  }

  #flush() {
    const pending = this.#pending;
    this.#pending = new Map();
    for (const [conversationId, events] of pending)
      for (let i = 0; i < events.length; i += MAX_EVENTS_PER_BUS_MESSAGE)
        this.bus!.publish('chat', events.slice(i, i + MAX_EVENTS_PER_BUS_MESSAGE), conversationId).catch(
          this.onError,
        );
  }

  async subscribe(
    conversationId: string,
    listener: (e: ConversationEvent) => void,
  ): Promise<() => Promise<void>> {
    let entry = this.#listeners.get(conversationId);
    if (!entry) {
      const set = new Set<(e: ConversationEvent) => void>();
      const ready = this.bus
        ? this.bus.subscribe(
            'chat',
            (events) => {
              // The channel names the conversation: an event naming another one is not its to deliver.
              for (const e of events) if (e.conversationId === conversationId) for (const l of set) l(e);
            },
            conversationId,
          )
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

  /**
   * After the commit: the members' user sockets (on any node) start carrying the conversation, or,
   * without one, ask again which conversations they may read.
   */
  publishMembers(memberIds: readonly string[], conversationId?: string): void {
    for (const memberId of memberIds) {
      if (!this.bus) {
        for (const l of this.#members.get(memberId) ?? []) l(conversationId);
        continue;
      }
      this.bus
        .publish('chat-members', conversationId ? { conversationId } : {}, memberId)
        .catch(this.onError);
    }
  }

  /** A member's membership changes from now on (see publishMembers); one bus subscription per listener (one per user socket). */
  async subscribeMember(
    memberId: string,
    listener: (conversationId: string | undefined) => void,
  ): Promise<() => Promise<void>> {
    if (this.bus) return this.bus.subscribe('chat-members', (m) => listener(m.conversationId), memberId);
    let set = this.#members.get(memberId);
    if (!set) this.#members.set(memberId, (set = new Set()));
    set.add(listener);
    return async () => {
      set.delete(listener);
      if (!set.size && this.#members.get(memberId) === set) this.#members.delete(memberId);
    };
  }
}
