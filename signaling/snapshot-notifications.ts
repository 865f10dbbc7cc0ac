import type { Notifications } from './protocol/index.ts';

/**
 * Notifications that carry a current state rather than an event: a newer one makes an unsent older
 * one worthless. The key says which older one it replaces (one per consumer for layer changes).
 */
const SNAPSHOT_KEYS: { [N in keyof Notifications]?: (data: Notifications[N]) => string } = {
  networkQuality: () => 'networkQuality',
  activeSpeaker: () => 'activeSpeaker',
  waitingRoom: () => 'waitingRoom',
  participants: () => 'participants',
  waitingStatus: () => 'waitingStatus',
  consumerLayersChanged: (data) => `consumerLayersChanged:${data.consumerId}`,
};

export function snapshotKey<N extends keyof Notifications>(
  method: N,
  data: Notifications[N],
): string | undefined {
  return (SNAPSHOT_KEYS[method] as ((d: Notifications[N]) => string) | undefined)?.(data);
}

/**
 * Above this many unsent bytes on a participant's socket, snapshots wait (newest kept) until the
 * backlog drains, so a slow client gets fewer, current states instead of a growing queue that ends
 * in the socket tier's backpressure close. Events (joins, producers, closes) are always sent.
 */
export const SNAPSHOT_DEFER_BYTES = 64 * 1024;

export type DeferredNotification = {
  method: keyof Notifications;
  data: unknown;
  dataJson: string | undefined;
};

/** Snapshots waiting for a socket that can take them, newest per key, in the order they last changed. */
export class DeferredSnapshots {
  readonly #pending = new Map<string, DeferredNotification>();

  get size() {
    return this.#pending.size;
  }

  /** Returns true when it replaced an unsent older snapshot (one notification fewer on the wire). */
  put(key: string, entry: DeferredNotification): boolean {
    const replaced = this.#pending.delete(key);
    this.#pending.set(key, entry);
    return replaced;
  }

  /** A consumer went away: its pending layer change is meaningless now. */
  forgetConsumer(consumerId: string) {
    this.#pending.delete(`consumerLayersChanged:${consumerId}`);
  }

  take(): DeferredNotification[] {
    const all = [...this.#pending.values()];
    this.#pending.clear();
    return all;
  }
}
