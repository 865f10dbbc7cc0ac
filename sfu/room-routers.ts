import type { types } from 'mediasoup';
import { SfuError } from './errors.ts';
import { mediaCodecs } from './media-codecs.ts';
import type { SfuWorker } from './worker-pool.ts';

/**
 * How a room grows past one worker. Given by the pool (which knows every worker's load); a room
 * made without it stays on its first worker, however many peers join.
 */
export type RoomSpread = {
  /** Peers one router of the room takes before the room opens a router on another worker. */
  peersPerRouter: number;
  /** The least-loaded live worker whose index is not in `used`, or undefined if there is none. */
  workerBesides: (used: ReadonlySet<number>) => SfuWorker | undefined;
};

/** One router of a room: the first one, or one opened on another worker when the room grew. */
export type RouterSlot = {
  readonly sfuWorker: SfuWorker;
  /** Resolves once the router exists; peers placed here await it before their first transport. */
  readonly router: Promise<types.Router>;
  /** The home router: stays open without peers. The next one takes over when its worker dies. */
  primary: boolean;
  peers: number;
  /** Producers of other routers made available here (pipeToRouter), by producer id. */
  readonly piped: Map<string, Promise<void>>;
};

export async function createRouter(sfuWorker: SfuWorker, roomId: string): Promise<types.Router> {
  return sfuWorker.worker.createRouter({ mediaCodecs, appData: { roomId } });
}

/**
 * The routers of one room, one per worker at most, and which peer is on which. A producer lives on
 * its peer's router; a peer on another router consumes it through a pipe made once per (producer,
 * router) and shared by every consumer there, so a viewer's consumer costs its own worker only.
 */
export class RoomRouters {
  readonly #slots: RouterSlot[];
  readonly #slotOfPeer = new Map<string, RouterSlot>();

  constructor(
    private readonly roomId: string,
    primaryWorker: SfuWorker,
    primaryRouter: types.Router,
    private readonly spread: RoomSpread | undefined,
    /** A router was opened (the room watches its worker). */
    private readonly onRouter: (router: types.Router, slot: RouterSlot) => void,
  ) {
    this.#slots = [
      {
        sfuWorker: primaryWorker,
        router: Promise.resolve(primaryRouter),
        primary: true,
        peers: 0,
        piped: new Map(),
      },
    ];
  }

  get slots(): readonly RouterSlot[] {
    return this.#slots;
  }

  /** Workers the room uses now, by index. */
  workerIndexes(): number[] {
    return this.#slots.map((s) => s.sfuWorker.index);
  }

  slotOf(peerId: string): RouterSlot | undefined {
    return this.#slotOfPeer.get(peerId);
  }

  /**
   * The router for a new peer: the room's emptiest while it has room, else a new one on the
   * least-loaded worker the room does not use yet (once every worker has one, the emptiest again).
   */
  place(peerId: string): RouterSlot {
    const emptiest = this.#slots.reduce((a, b) => (b.peers < a.peers ? b : a));
    let slot = emptiest;
    if (this.spread && emptiest.peers >= this.spread.peersPerRouter) {
      const worker = this.spread.workerBesides(new Set(this.workerIndexes()));
      if (worker) slot = this.#open(worker);
    }
    slot.peers++;
    this.#slotOfPeer.set(peerId, slot);
    return slot;
  }

  /** The peer left. A router other than the first closes with its last peer, and its pipes with it. */
  release(peerId: string) {
    const slot = this.#slotOfPeer.get(peerId);
    if (!slot) return;
    this.#slotOfPeer.delete(peerId);
    slot.peers--;
    if (slot.primary || slot.peers > 0) return;
    this.#slots.splice(this.#slots.indexOf(slot), 1);
    slot.piped.clear();
    void slot.router.then((r) => r.close()).catch(() => undefined);
  }

  /**
   * Makes `producer` (of a peer of this room) consumable on `slot`'s router: nothing to do on its
   * own router, otherwise a pipe from its router, made once and awaited by everyone who needs it.
   */
  async makeAvailable(producer: types.Producer, slot: RouterSlot): Promise<void> {
    const home = this.#slotOfPeer.get(String(producer.appData.peerId));
    // Its peer is leaving: the producer is as good as gone.
    if (!home) throw new SfuError('producer_not_found', 'no such producer in this room');
    if (home === slot) return;
    let pipe = slot.piped.get(producer.id);
    if (!pipe) {
      pipe = this.#pipe(producer, home, slot);
      slot.piped.set(producer.id, pipe);
      // A failed pipe is retried by the next consumer; a closed producer leaves nothing behind.
      pipe.catch(() => slot.piped.get(producer.id) === pipe && slot.piped.delete(producer.id));
      producer.observer.once('close', () => slot.piped.delete(producer.id));
    }
    return pipe;
  }

  async #pipe(producer: types.Producer, from: RouterSlot, to: RouterSlot) {
    const [source, target] = await Promise.all([from.router, to.router]);
    if (producer.closed) throw new SfuError('producer_not_found', 'no such producer in this room');
    await source.pipeToRouter({ producerId: producer.id, router: target });
  }

  #open(worker: SfuWorker): RouterSlot {
    const router = createRouter(worker, this.roomId);
    const slot: RouterSlot = { sfuWorker: worker, router, primary: false, peers: 0, piped: new Map() };
    router.then(
      (r) => this.onRouter(r, slot),
      () => undefined,
    );
    this.#slots.push(slot);
    return slot;
  }

  /**
   * A router is gone with its worker: the slot is dropped (its pipes died with it; if it was the
   * home, the next router becomes the home) and its peers are no longer placed anywhere. Returns
   * them, to be placed again; undefined if it was the room's only router.
   */
  lose(slot: RouterSlot): string[] | undefined {
    const index = this.#slots.indexOf(slot);
    if (index < 0) return [];
    if (this.#slots.length === 1) return undefined;
    this.#slots.splice(index, 1);
    if (slot.primary) this.#slots[0]!.primary = true;
    slot.piped.clear();
    const peers = [...this.#slotOfPeer].filter(([, s]) => s === slot).map(([peerId]) => peerId);
    for (const peerId of peers) this.#slotOfPeer.delete(peerId);
    return peers;
  }

  closeAll() {
    for (const slot of this.#slots) void slot.router.then((r) => r.close()).catch(() => undefined);
  }
}
