import type { Bus, BusHandler } from './types.ts';

export class LocalBus implements Bus {
  readonly kind = 'local' as const;
  readonly #handlers = new Map<string, Set<BusHandler>>();
  readonly #owners = new Map<string, { nodeId: string; expiresAt: number }>();
  readonly #nodes = new Map<string, { state: string; expiresAt: number }>();
  readonly #kept = new Map<string, { value: string; expiresAt: number }>();
  readonly #slots = new Map<string, Map<string, number>>();
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

  async renewRooms(roomIds: readonly string[], nodeId: string, ttlMs: number): Promise<string[]> {
    this.#assertOpen();
    const lost: string[] = [];
    for (const roomId of roomIds) {
      const current = this.#owners.get(roomId);
      if (current?.nodeId === nodeId && current.expiresAt > Date.now())
        current.expiresAt = Date.now() + ttlMs;
      else lost.push(roomId);
    }
    return lost;
  }

  async putNode(nodeId: string, state: string, ttlMs: number): Promise<void> {
    this.#assertOpen();
    this.#nodes.set(nodeId, { state, expiresAt: Date.now() + ttlMs });
  }

  async removeNode(nodeId: string): Promise<void> {
    this.#nodes.delete(nodeId);
  }

  async liveNodes(): Promise<Map<string, string>> {
    this.#assertOpen();
    const live = new Map<string, string>();
    for (const [id, { state, expiresAt }] of this.#nodes)
      if (expiresAt > Date.now()) live.set(id, state);
      else this.#nodes.delete(id);
    return live;
  }

  async keepFirst(key: string, value: string, ttlMs: number): Promise<string> {
    this.#assertOpen();
    const current = this.#kept.get(key);
    const kept = current && current.expiresAt > Date.now() ? current.value : value;
    this.#kept.set(key, { value: kept, expiresAt: Date.now() + ttlMs });
    return kept;
  }

  async forget(key: string): Promise<void> {
    this.#kept.delete(key);
  }

  async takeSlot(set: string, slot: string, max: number, ttlMs: number): Promise<boolean> {
    this.#assertOpen();
    const slots = this.#slots.get(set) ?? new Map<string, number>();
    for (const [s, expiresAt] of slots) if (expiresAt <= Date.now()) slots.delete(s);
    if (!slots.has(slot) && slots.size >= max) return false;
    slots.set(slot, Date.now() + ttlMs);
    this.#slots.set(set, slots);
    return true;
  }

  async renewSlots(slots: readonly { set: string; slot: string }[], ttlMs: number): Promise<void> {
    this.#assertOpen();
    for (const { set, slot } of slots) {
      const held = this.#slots.get(set);
      if (held?.has(slot)) held.set(slot, Date.now() + ttlMs);
    }
  }

  async releaseSlot(set: string, slot: string): Promise<void> {
    const held = this.#slots.get(set);
    held?.delete(slot);
    if (held?.size === 0) this.#slots.delete(set);
  }

  async ping(): Promise<void> {
    this.#assertOpen();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#handlers.clear();
    this.#owners.clear();
    this.#nodes.clear();
    this.#kept.clear();
    this.#slots.clear();
  }

  #assertOpen() {
    if (this.#closed) throw new Error('bus closed');
  }
}
