import type { Bus, BusHandler } from './types.ts';

export class LocalBus implements Bus {
  readonly kind = 'local' as const;
  readonly #handlers = new Map<string, Set<BusHandler>>();
  readonly #owners = new Map<string, { nodeId: string; expiresAt: number }>();
  #closed = false;

  async publish(channel: string, message: unknown): Promise<void> {
    this.#assertOpen();
    // Round-trip through JSON so local and Redis deliver the same shapes.
    const copy = JSON.parse(JSON.stringify(message)) as unknown;
    for (const handler of this.#handlers.get(channel) ?? []) queueMicrotask(() => handler(copy));
  }

  async subscribe(channel: string, handler: BusHandler): Promise<() => Promise<void>> {
    this.#assertOpen();
    const set = this.#handlers.get(channel) ?? new Set();
    set.add(handler);
    this.#handlers.set(channel, set);
    return async () => {
      set.delete(handler);
      if (set.size === 0) this.#handlers.delete(channel);
    };
  }

  async claimRoom(roomId: string, nodeId: string, ttlMs: number): Promise<string> {
    this.#assertOpen();
    const current = this.#owners.get(roomId);
    if (current && current.expiresAt > Date.now() && current.nodeId !== nodeId) return current.nodeId;
    this.#owners.set(roomId, { nodeId, expiresAt: Date.now() + ttlMs });
    return nodeId;
  }

  async releaseRoom(roomId: string, nodeId: string): Promise<void> {
    if (this.#owners.get(roomId)?.nodeId === nodeId) this.#owners.delete(roomId);
  }

  async roomOwner(roomId: string): Promise<string | undefined> {
    const current = this.#owners.get(roomId);
    return current && current.expiresAt > Date.now() ? current.nodeId : undefined;
  }

  async ping(): Promise<void> {
    this.#assertOpen();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#handlers.clear();
    this.#owners.clear();
  }

  #assertOpen() {
    if (this.#closed) throw new Error('bus closed');
  }
}
