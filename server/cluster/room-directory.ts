import type { Bus } from '../bus/types.ts';

/**
 * Which node owns which room, as leases in the directory (Redis or in-process). This node holds a
 * lease while it hosts the room or while a participant's session waits to join it (a reservation:
 * placement claimed the room before the first join). The heartbeat renews every held lease; a dead
 * node's leases expire within one lease period and its rooms can be claimed again.
 */
export class RoomDirectory {
  readonly #hosted = new Set<string>();
  readonly #reservations = new Map<string, number>();
  #released = false;

  constructor(
    private readonly transport: Bus,
    readonly nodeId: string,
    readonly leaseMs: number,
  ) {}

  /** Claims the room for `forNode` (this node by default) unless a live node owns it; returns the owner. */
  claim(roomId: string, forNode = this.nodeId): Promise<string> {
    return this.transport.claimRoom(roomId, forNode, this.leaseMs);
  }

  owner(roomId: string): Promise<string | undefined> {
    return this.transport.roomOwner(roomId);
  }

  /** The room is hosted here: claims it (renewed from now on); false if another node owns it. */
  async host(roomId: string): Promise<boolean> {
    if (this.#released) return false;
    if ((await this.claim(roomId)) !== this.nodeId) return false;
    this.#hosted.add(roomId);
    return true;
  }

  /** The room ended here: the lease goes unless a session still waits for it. */
  async unhost(roomId: string): Promise<void> {
    this.#hosted.delete(roomId);
    if (!this.#reservations.has(roomId)) await this.transport.releaseRoom(roomId, this.nodeId);
  }

  /** A session bound to a room owned here: keep the lease until it ends, even before the room exists. */
  reserve(roomId: string): void {
    this.#reservations.set(roomId, (this.#reservations.get(roomId) ?? 0) + 1);
  }

  async unreserve(roomId: string): Promise<void> {
    const n = (this.#reservations.get(roomId) ?? 1) - 1;
    if (n > 0) return void this.#reservations.set(roomId, n);
    this.#reservations.delete(roomId);
    if (!this.#hosted.has(roomId)) await this.transport.releaseRoom(roomId, this.nodeId);
  }

  /** Draining: every lease goes now (the rooms are placed anew when their participants rejoin), and no new one is taken. */
  async releaseAll(): Promise<void> {
    this.#released = true;
    const held = this.held;
    this.#hosted.clear();
    this.#reservations.clear();
    await Promise.all(held.map((roomId) => this.transport.releaseRoom(roomId, this.nodeId)));
  }

  get held(): string[] {
    return [...new Set([...this.#hosted, ...this.#reservations.keys()])];
  }

  /**
   * Renews every held lease. A lease that lapsed (Redis was away longer than a lease) is claimed
   * again if nobody took it; the rooms another node took meanwhile are returned: this node must stop
   * hosting them, so that no two nodes believe they own one room.
   */
  async renew(): Promise<string[]> {
    const lapsed = await this.transport.renewRooms(this.held, this.nodeId, this.leaseMs);
    const taken: string[] = [];
    for (const roomId of lapsed) if ((await this.claim(roomId)) !== this.nodeId) taken.push(roomId);
    for (const roomId of taken) {
      this.#hosted.delete(roomId);
      this.#reservations.delete(roomId);
    }
    return taken;
  }
}
