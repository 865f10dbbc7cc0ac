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
  ping(): Promise<void>;
  close(): Promise<void>;
}
