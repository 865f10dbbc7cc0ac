/**
 * Cross-node messaging and the room directory. One node owns a room; the directory says which.
 * Local (single process) and Redis implementations; chosen in createBus().
 */
export type BusHandler = (message: unknown) => void;

export interface Bus {
  readonly kind: 'local' | 'redis';
  publish(channel: string, message: unknown): Promise<void>;
  /** Resolves once the subscription is active; returns the unsubscribe function. */
  subscribe(channel: string, handler: BusHandler): Promise<() => Promise<void>>;
  /** Claims a room for a node unless another live node owns it; returns the owner. */
  claimRoom(roomId: string, nodeId: string, ttlMs: number): Promise<string>;
  releaseRoom(roomId: string, nodeId: string): Promise<void>;
  roomOwner(roomId: string): Promise<string | undefined>;
  /** Extends the leases this node still holds; returns the rooms it no longer owns (expired or taken). */
  renewRooms(roomIds: readonly string[], nodeId: string, ttlMs: number): Promise<string[]>;
  /** Announces a live node with its state (JSON), for ttlMs unless announced again. */
  putNode(nodeId: string, state: string, ttlMs: number): Promise<void>;
  removeNode(nodeId: string): Promise<void>;
  /** Every node announced and not expired, with the state it announced last. */
  liveNodes(): Promise<Map<string, string>>;
  /**
   * The value under `key`, shared by every node; `value` is stored first if there is none. Either
   * way it expires ttlMs from now unless asked for again (what outlives a node: a waiting patient's
   * first knock).
   */
  keepFirst(key: string, value: string, ttlMs: number): Promise<string>;
  forget(key: string): Promise<void>;
  /**
   * Takes `slot` in the bounded set `set`, shared by every node, unless `max` live slots are held
   * there already (false then). A slot lives ttlMs unless renewed: a dead node's slots run out.
   */
  takeSlot(set: string, slot: string, max: number, ttlMs: number): Promise<boolean>;
  /** Extends slots this node still holds. */
  renewSlots(slots: readonly { set: string; slot: string }[], ttlMs: number): Promise<void>;
  releaseSlot(set: string, slot: string): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
