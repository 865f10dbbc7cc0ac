import type { Notifications } from './protocol/index.ts';

type Delta<K extends string> = { full: boolean; gone: string[] } & { [P in K]: { peerId: string }[] };

/** Two room-wide change frames as one: what the older said, updated by the newer. */
function mergeDeltas<K extends string, D extends Delta<K>>(key: K, older: D, newer: D): D {
  if (newer.full) return newer;
  const rows = new Map(older[key].map((r) => [r.peerId, r]));
  const gone = new Set(older.gone);
  for (const id of newer.gone) (rows.delete(id), gone.add(id));
  for (const r of newer[key]) (rows.set(r.peerId, r), gone.delete(r.peerId));
  // A full older frame stays full: what it did not list is gone anyway.
  return { full: older.full, [key]: [...rows.values()], gone: older.full ? [] : [...gone] } as unknown as D;
}

/**
 * Room-wide state sent as changes: a newer frame does not replace an unsent older one, the two
 * merge, so a slow client still ends up with every change.
 */
const MERGES: {
  [N in keyof Notifications]?: (older: Notifications[N], newer: Notifications[N]) => Notifications[N];
} = {
  networkQuality: (older, newer) => mergeDeltas('peers', older, newer),
  participants: (older, newer) => mergeDeltas('participants', older, newer),
};

/**
 * Notifications that carry a current state rather than an event: a newer one makes an unsent older
 * one worthless (or, for room-wide changes, absorbs it: MERGES). The key says which older one it
 * replaces (one per consumer for layer changes).
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

  /** Returns true when it replaced (or merged into) an unsent older one: one notification fewer on the wire. */
  put(key: string, entry: DeferredNotification): boolean {
    const older = this.#pending.get(key);
    const merge = MERGES[entry.method] as ((a: unknown, b: unknown) => unknown) | undefined;
    this.#pending.delete(key);
    this.#pending.set(
      key,
      older && merge
        ? { method: entry.method, data: merge(older.data, entry.data), dataJson: undefined }
        : entry,
    );
    return older !== undefined;
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
