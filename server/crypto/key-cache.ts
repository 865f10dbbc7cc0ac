export type CachedKey = { id: string; scope: string; key: Uint8Array };

/**
 * Unwrapped data keys, least recently used evicted first, at most `capacity`: a node serving many
 * conversations keeps the hot ones without holding every key in memory. Evicted keys are not wiped:
 * an operation that fetched one just before may still be using it (libsodium copies it into its own
 * heap per call anyway, so wiping this copy would protect little).
 */
export class KeyCache {
  readonly #byId = new Map<string, CachedKey>();
  readonly #idByScope = new Map<string, string>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new Error('key cache capacity must be a positive integer');
  }

  get size(): number {
    return this.#byId.size;
  }

  byId(id: string): CachedKey | undefined {
    const entry = this.#byId.get(id);
    if (entry) this.#touch(entry);
    return entry;
  }

  byScope(scope: string): CachedKey | undefined {
    const id = this.#idByScope.get(scope);
    return id === undefined ? undefined : this.byId(id);
  }

  add(entry: CachedKey): void {
    const existing = this.#byId.get(entry.id);
    if (existing) return this.#touch(existing);
    this.#byId.set(entry.id, entry);
    this.#idByScope.set(entry.scope, entry.id);
    while (this.#byId.size > this.capacity) {
      const oldest = this.#byId.values().next().value!;
      this.#byId.delete(oldest.id);
      this.#idByScope.delete(oldest.scope);
    }
  }

  clear(): void {
    this.#byId.clear();
    this.#idByScope.clear();
  }

  // A Map iterates in insertion order: re-inserting moves the entry to the young end.
  #touch(entry: CachedKey): void {
    this.#byId.delete(entry.id);
    this.#byId.set(entry.id, entry);
  }
}
