type Listener = (userIds: readonly string[]) => void;

/**
 * Told after a commit that changed whom someone belongs to (a clinic membership, a guardianship, a
 * treating relationship). Identity knows when that happens but not who cares: chat's user sockets
 * re-decide which conversations they carry, wired in the composition root.
 */
export class MembershipChanges {
  readonly #listeners = new Set<Listener>();

  on(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  changed(userIds: readonly string[]) {
    if (userIds.length === 0) return;
    for (const listener of this.#listeners) listener(userIds);
  }
}
