/**
 * What a room last told its members about one kind of per-member state, so that the next frame
 * carries only what changed since (rows compared by their JSON text, which is also what is sent).
 */
export class DeltaTracker<Row extends { peerId: string }> {
  readonly #sent = new Map<string, { json: string; row: Row }>();

  /** The rows as last sent, in room order: the full list for a member who just came in. */
  rows(): Row[] {
    return [...this.#sent.values()].map((e) => e.row);
  }

  /** Compares `current` (every member's row now) with what was sent; undefined when nothing changed. */
  next(current: readonly Row[]): { rows: Row[]; gone: string[] } | undefined {
    const rows: Row[] = [];
    const present = new Set<string>();
    for (const row of current) {
      present.add(row.peerId);
      const json = JSON.stringify(row);
      if (this.#sent.get(row.peerId)?.json === json) continue;
      this.#sent.set(row.peerId, { json, row });
      rows.push(row);
    }
    const gone = [...this.#sent.keys()].filter((id) => !present.has(id));
    for (const id of gone) this.#sent.delete(id);
    return rows.length || gone.length ? { rows, gone } : undefined;
  }
}
