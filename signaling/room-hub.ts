import type { Logger } from 'pino';
import type { Room, RoomCloseReason, WorkerPool } from '../sfu/index.ts';
import { HubRoom } from './hub-room.ts';
import { KeyedQueue } from './keyed-queue.ts';
import type { RoomLifecycle, SignalingMetrics } from './room-lifecycle.ts';
import { SignalingError } from './signaling-error.ts';

const REBUILD_DEADLINE_MS = 5000;

export type RoomHubOptions = {
  pool: WorkerPool;
  lifecycle: RoomLifecycle;
  metrics: SignalingMetrics;
  logger: Logger;
  emptyRoomTimeoutMs: number;
  /** How often live rooms re-claim their directory entry. */
  claimRefreshMs: number;
  /** How often participants' link quality is pushed to their rooms. */
  qualityIntervalMs?: number;
  /** Participants per room (default MAX_ROOM_PARTICIPANTS). */
  roomCapacity?: number;
};

/** The rooms this node hosts. */
export class RoomHub {
  readonly #rooms = new Map<string, HubRoom>();
  readonly #queue = new KeyedQueue();
  readonly #refresh: NodeJS.Timeout;
  readonly #quality: NodeJS.Timeout;
  #closed = false;

  constructor(private readonly opts: RoomHubOptions) {
    this.#refresh = setInterval(() => {
      for (const id of this.#rooms.keys()) {
        opts.lifecycle
          .claim(id)
          .catch((err) => opts.logger.warn({ roomId: id, err }, 'room claim refresh failed'));
      }
    }, opts.claimRefreshMs);
    this.#refresh.unref();
    this.#quality = setInterval(() => {
      for (const r of this.#rooms.values()) r.publishQuality();
    }, opts.qualityIntervalMs ?? 2000);
    this.#quality.unref();
  }

  /**
   * What the room's router can receive (the same for every router here), without creating or
   * claiming the room. A room another node hosts is refused now, as the join would be.
   */
  async rtpCapabilitiesFor(roomId: string): Promise<unknown> {
    if (this.#closed) throw new SignalingError('room_closed', 'server is shutting down');
    if (!this.#rooms.has(roomId) && (await this.opts.lifecycle.hostedElsewhere(roomId))) {
      throw new SignalingError('room_elsewhere', 'this room is hosted by another node');
    }
    return this.opts.pool.routerRtpCapabilities;
  }

  get rooms(): ReadonlyMap<string, HubRoom> {
    return this.#rooms;
  }

  peerCount() {
    let n = 0;
    for (const r of this.#rooms.values()) n += r.room.peers.size;
    return n;
  }

  /** Consumers of every peer here: what placement weighs a node by. */
  consumerCount() {
    let n = 0;
    for (const r of this.#rooms.values()) for (const peer of r.room.peers.values()) n += peer.consumers.size;
    return n;
  }

  /** Ends one room here (its lease went to another node): members get roomClosed. */
  closeRoom(roomId: string, reason: RoomCloseReason) {
    const hubRoom = this.#rooms.get(roomId);
    if (!hubRoom) return;
    hubRoom.closeAll(reason);
    this.#onRoomClosed(hubRoom, reason);
  }

  /** Since when a participant knocking now has waited (the first knock, on whichever node); now if unknown. */
  async waitingSince(roomId: string, peerId: string): Promise<Date> {
    try {
      return await this.opts.lifecycle.waitingSince(roomId, peerId);
    } catch (err) {
      this.opts.logger.warn({ roomId, err: (err as Error).message }, 'first knock unknown: waiting from now');
      return new Date();
    }
  }

  reportMetrics() {
    this.opts.metrics.roomsChanged(this.#rooms.size, this.peerCount());
  }

  getOrCreate(roomId: string): Promise<HubRoom> {
    return this.#queue.run(roomId, async () => {
      if (this.#closed) throw new SignalingError('room_closed', 'server is shutting down');
      const existing = this.#rooms.get(roomId);
      if (existing && !existing.closed) return existing;
      if (!(await this.opts.lifecycle.claim(roomId))) {
        throw new SignalingError('room_elsewhere', 'this room is hosted by another node');
      }
      const room = await this.opts.pool.createRoom(roomId);
      const hubRoom = new HubRoom(room, {
        emptyTimeoutMs: this.opts.emptyRoomTimeoutMs,
        capacity: this.opts.roomCapacity,
        onMediaLost: (r) => void this.#rebuild(r),
        onMemberJoined: (r, member) => {
          this.opts.lifecycle.participantJoined(r.id, member.peerId, member.role);
          this.reportMetrics();
        },
        onWaitEnded: (r, peerId) => this.opts.lifecycle.waitingEnded(r.id, peerId),
        onMemberLeft: (r, peerId) => {
          this.opts.lifecycle.participantLeft(r.id, peerId);
          this.reportMetrics();
        },
      });
      this.#rooms.set(roomId, hubRoom);
      this.#watch(hubRoom, room);
      await this.opts.lifecycle.started(roomId, room.workerIndex);
      this.opts.logger.info({ roomId, worker: room.workerIndex }, 'room started');
      this.reportMetrics();
      return hubRoom;
    });
  }

  /** Closes every room (members get roomClosed), in the shutdown path. */
  async close(reason: RoomCloseReason) {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#refresh);
    clearInterval(this.#quality);
    for (const hubRoom of [...this.#rooms.values()]) {
      hubRoom.closeAll(reason);
      this.#onRoomClosed(hubRoom, reason);
    }
    await this.#endings;
  }

  #endings: Promise<unknown> = Promise.resolve();

  #watch(hubRoom: HubRoom, room: Room) {
    room.on('close', (reason) => {
      if (reason !== 'worker_died') this.#onRoomClosed(hubRoom, reason);
    });
  }

  /**
   * The room's worker died: recreate its Router on a live worker (waiting briefly for the pool to
   * replace the dead one if it was the only one) and let every participant renegotiate.
   */
  async #rebuild(hubRoom: HubRoom) {
    const started = Date.now();
    for (let attempt = 0; !this.#closed && Date.now() - started < REBUILD_DEADLINE_MS; attempt++) {
      try {
        const room = await this.opts.pool.createRoom(hubRoom.id);
        if (this.#closed || hubRoom.closed) return room.close('shutdown');
        this.#watch(hubRoom, room);
        hubRoom.rebuildOn(room);
        this.opts.logger.warn(
          { roomId: hubRoom.id, worker: room.workerIndex, ms: Date.now() - started },
          'room rebuilt after worker death',
        );
        return;
      } catch {
        await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** attempt, 500)));
      }
    }
    this.opts.logger.error({ roomId: hubRoom.id }, 'room lost with its worker');
    hubRoom.closeAll('worker_died');
    this.#onRoomClosed(hubRoom, 'worker_died');
  }

  #onRoomClosed(hubRoom: HubRoom, reason: RoomCloseReason) {
    if (this.#rooms.get(hubRoom.id) !== hubRoom) return;
    this.#rooms.delete(hubRoom.id);
    this.opts.logger.info({ roomId: hubRoom.id, reason }, 'room ended');
    this.reportMetrics();
    const ended = this.opts.lifecycle
      .ended(hubRoom.id, reason)
      .catch((err) => this.opts.logger.error({ roomId: hubRoom.id, err }, 'recording room end failed'));
    this.#endings = Promise.all([this.#endings, ended]);
  }
}
