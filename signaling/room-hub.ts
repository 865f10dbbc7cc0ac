import type { Logger } from 'pino';
import { Room } from '../sfu/room.ts';
import type { RoomCloseReason } from '../sfu/room.ts';
import type { WorkerPool } from '../sfu/worker-pool.ts';
import { HubRoom } from './hub-room.ts';
import { KeyedQueue } from './keyed-queue.ts';
import type { RoomLifecycle, SignalingMetrics } from './room-lifecycle.ts';
import { SignalingError } from './signaling-error.ts';

export type RoomHubOptions = {
  pool: WorkerPool;
  lifecycle: RoomLifecycle;
  metrics: SignalingMetrics;
  logger: Logger;
  emptyRoomTimeoutMs: number;
  /** How often live rooms re-claim their directory entry. */
  claimRefreshMs: number;
};

/** The rooms this node hosts. */
export class RoomHub {
  readonly #rooms = new Map<string, HubRoom>();
  readonly #queue = new KeyedQueue();
  readonly #refresh: NodeJS.Timeout;
  #closed = false;

  constructor(private readonly opts: RoomHubOptions) {
    this.#refresh = setInterval(() => {
      for (const id of this.#rooms.keys()) {
        opts.lifecycle.claim(id).catch((err) => opts.logger.warn({ roomId: id, err }, 'room claim refresh failed'));
      }
    }, opts.claimRefreshMs);
    this.#refresh.unref();
  }

  get rooms(): ReadonlyMap<string, HubRoom> {
    return this.#rooms;
  }

  peerCount() {
    let n = 0;
    for (const r of this.#rooms.values()) n += r.room.peers.size;
    return n;
  }

  reportMetrics() {
    this.opts.metrics.roomsChanged(this.#rooms.size, this.peerCount());
  }

  getOrCreate(roomId: string): Promise<HubRoom> {
    return this.#queue.run(roomId, async () => {
      if (this.#closed) throw new SignalingError('room_closed', 'server is shutting down');
      const existing = this.#rooms.get(roomId);
      if (existing && !existing.room.closed) return existing;
      if (!(await this.opts.lifecycle.claim(roomId))) {
        throw new SignalingError('room_elsewhere', 'this room is hosted by another node');
      }
      const worker = await this.opts.pool.leastLoaded();
      const room = await Room.create(roomId, worker);
      const hubRoom = new HubRoom(room, this.opts.emptyRoomTimeoutMs);
      this.#rooms.set(roomId, hubRoom);
      room.on('close', (reason) => this.#onRoomClosed(hubRoom, reason));
      room.on('peerClosed', (peer) => {
        this.opts.lifecycle.participantLeft(roomId, peer.id);
        this.reportMetrics();
      });
      await this.opts.lifecycle.started(roomId, worker.index);
      this.opts.logger.info({ roomId, worker: worker.index }, 'room started');
      this.reportMetrics();
      return hubRoom;
    });
  }

  /** Closes every room (members get roomClosed), in the shutdown path. */
  async close(reason: RoomCloseReason) {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#refresh);
    const pending = [...this.#rooms.values()].map((r) => r.room);
    for (const room of pending) room.close(reason);
    await this.#endings;
  }

  #endings: Promise<unknown> = Promise.resolve();

  #onRoomClosed(hubRoom: HubRoom, reason: RoomCloseReason) {
    if (this.#rooms.get(hubRoom.id) === hubRoom) this.#rooms.delete(hubRoom.id);
    this.opts.logger.info({ roomId: hubRoom.id, reason }, 'room ended');
    this.reportMetrics();
    const ended = this.opts.lifecycle
      .ended(hubRoom.id, reason)
      .catch((err) => this.opts.logger.error({ roomId: hubRoom.id, err }, 'recording room end failed'));
    this.#endings = Promise.all([this.#endings, ended]);
  }
}
