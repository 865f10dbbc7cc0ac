import type {
  NetworkQuality,
  NetworkQualityDelta,
  ParticipantInfo,
  ParticipantsDelta,
} from '../../signaling/protocol/index.ts';

/** Rows keyed by member, in the room's order: a whole list replaces them, a change frame updates them. */
class KeyedRows<Row extends { peerId: string }> {
  #rows = new Map<string, Row>();

  replace(rows: readonly Row[]) {
    this.#rows = new Map(rows.map((r) => [r.peerId, r]));
  }

  apply(full: boolean, rows: readonly Row[], gone: readonly string[]) {
    if (full) return this.replace(rows);
    for (const id of gone) this.#rows.delete(id);
    for (const r of rows) this.#rows.set(r.peerId, r);
  }

  list(): Row[] {
    return [...this.#rows.values()];
  }

  clear() {
    this.#rows.clear();
  }
}

/**
 * The room-wide lists a client keeps: the participant list and everyone's link quality. The server
 * sends each whole once on admission and then only what changed (room-deltas.ts); this turns both
 * into the current lists the page shows.
 */
export class RoomRoster {
  readonly #participants = new KeyedRows<ParticipantInfo>();
  readonly #quality = new KeyedRows<NetworkQuality>();

  get participants(): ParticipantInfo[] {
    return this.#participants.list();
  }
  get quality(): NetworkQuality[] {
    return this.#quality.list();
  }

  applyParticipants(delta: ParticipantsDelta): ParticipantInfo[] {
    this.#participants.apply(delta.full, delta.participants as ParticipantInfo[], delta.gone);
    return this.participants;
  }

  applyQuality(delta: NetworkQualityDelta): NetworkQuality[] {
    this.#quality.apply(delta.full, delta.peers, delta.gone);
    return this.quality;
  }

  clear() {
    this.#participants.clear();
    this.#quality.clear();
  }
}
