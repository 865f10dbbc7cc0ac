import { EventEmitter } from 'node:events';
import { cpus } from 'node:os';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import { SfuError } from './errors.ts';
import { Room } from './room.ts';
import type { RoomSpread } from './room-routers.ts';
import { TransportWatch, type TransportWatchOptions } from './transport-watch.ts';
import { udpSocketStats } from './udp-socket-stats.ts';

export type WorkerPoolOptions = {
  numWorkers?: number | undefined;
  listenIp: string;
  announcedIp?: string | undefined;
  /**
   * First media port; socket j of worker i listens on basePort + j * numWorkers + i (UDP and TCP),
   * so with one socket per worker, worker i uses basePort + i. 0 = any free port.
   */
  basePort: number;
  /** Listen sockets (WebRtcServers) per worker; peers are spread over them. Default 1. */
  socketsPerWorker?: number | undefined;
  logLevel?: types.WorkerLogLevel;
  transportWatch?: TransportWatchOptions;
  /** One DTLS certificate for every worker (PEM files); by default each worker makes its own. */
  dtls?: { certificateFile: string; privateKeyFile: string } | undefined;
  /**
   * Peers a room puts on one worker before it opens a router on another (piping its producers
   * there); 0 = every room stays on one worker. Default DEFAULT_ROOM_PEERS_PER_WORKER.
   */
  roomPeersPerWorker?: number | undefined;
  /** Wait before retrying a failed respawn: doubles from `first` up to `max`. */
  respawnBackoffMs?: { first: number; max: number } | undefined;
};

/**
 * One mediasoup worker process with its WebRtcServers. Each server is one UDP and one TCP port;
 * a peer's transports all use one of them, the one with the fewest peers when it joined, so that
 * one socket's receive buffer is not shared by every peer of the worker.
 */
export type SfuWorker = {
  readonly index: number;
  readonly worker: types.Worker;
  readonly webRtcServers: readonly types.WebRtcServer[];
  /** The UDP port of each server, in the same order. */
  readonly udpPorts: readonly number[];
  /** Takes the least used server for a new peer; call the returned release when the peer goes. */
  takeWebRtcServer(): { server: types.WebRtcServer; release: () => void };
  /** Peers on this worker now, of every room. */
  peerCount(): number;
  readonly transports: TransportWatch;
};

const EXIT_GRACE_MS = 3000;

async function udpPortOf(server: types.WebRtcServer): Promise<number> {
  const dump = (await server.dump()) as { udpSockets?: { port: number }[] };
  return dump.udpSockets?.[0]?.port ?? 0;
}

function isRunning(pid: number) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A consultation of up to 8 stays on one worker (no pipe hop); a talk with 200 viewers spreads over
 * several once it passes this many on one.
 */
export const DEFAULT_ROOM_PEERS_PER_WORKER = 50;

const DEFAULT_RESPAWN_BACKOFF_MS = { first: 250, max: 10_000 };

type PoolEvents = {
  workerDied: [index: number, error: Error];
  /** Starting the replacement failed; the pool tries again after `retryInMs`. */
  workerRespawnFailed: [index: number, error: Error, attempt: number, retryInMs: number];
  workerReplaced: [worker: SfuWorker];
};

export class WorkerPool extends EventEmitter<PoolEvents> {
  readonly #workers: SfuWorker[] = [];
  #closed = false;
  #numWorkers = 0;
  #routerRtpCapabilities: types.RtpCapabilities | undefined;
  readonly #respawnTimers = new Set<NodeJS.Timeout>();
  /** Connection telemetry of every transport on every worker. */
  readonly transports: TransportWatch;

  private constructor(private readonly opts: WorkerPoolOptions) {
    super();
    this.transports = new TransportWatch(opts.transportWatch);
  }

  static async create(opts: WorkerPoolOptions): Promise<WorkerPool> {
    const pool = new WorkerPool(opts);
    const n = opts.numWorkers ?? cpus().length;
    pool.#numWorkers = n;
    try {
      for (let i = 0; i < n; i++) pool.#workers.push(await pool.#spawn(i));
      // Every router gets the same capabilities from the same codec list: read them once from a probe.
      const probe = await Room.create('rtp-capabilities-probe', pool.#workers[0]!);
      pool.#routerRtpCapabilities = probe.rtpCapabilities;
      probe.close('ended');
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  get closed() {
    return this.#closed;
  }

  /** What a router of this pool can receive: a client's Device loads these before it joins a room. */
  get routerRtpCapabilities(): types.RtpCapabilities {
    return this.#routerRtpCapabilities!;
  }

  get workers(): readonly SfuWorker[] {
    return this.#workers;
  }

  /** Live workers / configured workers, for readiness. */
  health() {
    return { alive: this.#workers.filter((w) => !w.worker.closed).length, total: this.#workers.length };
  }

  /** The live worker hosting the fewest routers (rooms). */
  async leastLoaded(): Promise<SfuWorker> {
    const live = this.#workers.filter((w) => !w.worker.closed);
    if (live.length === 0) throw new SfuError('no_worker', 'no live media worker');
    const loads = await Promise.all(
      live.map(async (w) => ({ w, load: (await w.worker.dump()).routerIds.length })),
    );
    loads.sort((a, b) => a.load - b.load || a.w.index - b.w.index);
    return loads[0]!.w;
  }

  /**
   * A new room (Router) on the least-loaded live worker. It opens routers on other workers as it
   * grows past roomPeersPerWorker on one.
   */
  async createRoom(roomId: string): Promise<Room> {
    const peersPerRouter = this.opts.roomPeersPerWorker ?? DEFAULT_ROOM_PEERS_PER_WORKER;
    const spread: RoomSpread | undefined =
      peersPerRouter > 0 ? { peersPerRouter, workerBesides: (used) => this.#fewestPeers(used) } : undefined;
    return Room.create(roomId, await this.leastLoaded(), spread);
  }

  #fewestPeers(besides: ReadonlySet<number>): SfuWorker | undefined {
    const candidates = this.#workers.filter((w) => !w.worker.closed && !besides.has(w.index));
    candidates.sort((a, b) => a.peerCount() - b.peerCount() || a.index - b.index);
    return candidates[0];
  }

  /**
   * Datagrams the kernel dropped on each live worker's UDP ports because the receive buffer was
   * full (Linux; counters since each socket was opened).
   */
  udpReceiveDrops(): { worker: number; port: number; drops: number }[] {
    const stats = udpSocketStats();
    return this.#workers
      .filter((w) => !w.worker.closed)
      .flatMap((w) =>
        w.udpPorts.map((port) => ({ worker: w.index, port, drops: stats.get(port)?.drops ?? 0 })),
      );
  }

  pids(): number[] {
    return this.#workers.filter((w) => !w.worker.closed).map((w) => w.worker.pid);
  }

  /** Resolves once every worker process has exited, so a stopping node leaves no orphans. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#respawnTimers) clearTimeout(timer);
    this.#respawnTimers.clear();
    this.transports.close();
    const pids = this.pids();
    for (const w of this.#workers) w.worker.close(); // sends SIGTERM
    const deadline = Date.now() + EXIT_GRACE_MS;
    while (pids.some(isRunning) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const pid of pids.filter(isRunning)) process.kill(pid, 'SIGKILL');
  }

  async #spawn(index: number): Promise<SfuWorker> {
    const { dtls } = this.opts;
    const worker = await mediasoup.createWorker({
      logLevel: this.opts.logLevel ?? 'warn',
      ...(dtls ? { dtlsCertificateFile: dtls.certificateFile, dtlsPrivateKeyFile: dtls.privateKeyFile } : {}),
    });
    const servers: types.WebRtcServer[] = [];
    const udpPorts: number[] = [];
    try {
      for (let j = 0; j < (this.opts.socketsPerWorker ?? 1); j++) {
        const port = this.opts.basePort === 0 ? undefined : this.opts.basePort + j * this.#numWorkers + index;
        const listen = { ip: this.opts.listenIp, announcedIp: this.opts.announcedIp, port };
        const server = await worker.createWebRtcServer({
          listenInfos: [
            { protocol: 'udp', ...listen },
            { protocol: 'tcp', ...listen },
          ],
        });
        servers.push(server);
        udpPorts.push(await udpPortOf(server));
      }
    } catch (err) {
      worker.close();
      throw err;
    }
    const peersOn = servers.map(() => 0);
    const sfuWorker: SfuWorker = {
      index,
      worker,
      webRtcServers: servers,
      udpPorts,
      takeWebRtcServer: () => {
        const j = peersOn.indexOf(Math.min(...peersOn));
        peersOn[j]!++;
        let released = false;
        const release = () => {
          if (!released) ((released = true), peersOn[j]!--);
        };
        return { server: servers[j]!, release };
      },
      peerCount: () => peersOn.reduce((a, b) => a + b, 0),
      transports: this.transports,
    };
    worker.on('died', (error) => void this.#onDied(sfuWorker, error));
    return sfuWorker;
  }

  #onDied(dead: SfuWorker, error: Error) {
    this.emit('workerDied', dead.index, error);
    void this.#respawn(dead, 1);
  }

  /**
   * Replaces a dead worker, retrying with a growing pause while starting one fails (a missing
   * certificate, a port still held, no memory): the slot stays dead meanwhile, which readiness shows.
   */
  async #respawn(dead: SfuWorker, attempt: number) {
    if (this.#closed) return;
    let replacement: SfuWorker;
    try {
      replacement = await this.#spawn(dead.index);
    } catch (err) {
      if (this.#closed) return;
      const { first, max } = this.opts.respawnBackoffMs ?? DEFAULT_RESPAWN_BACKOFF_MS;
      const retryInMs = Math.min(first * 2 ** (attempt - 1), max);
      const timer = setTimeout(() => {
        this.#respawnTimers.delete(timer);
        void this.#respawn(dead, attempt + 1);
      }, retryInMs);
      this.#respawnTimers.add(timer);
      this.emit(
        'workerRespawnFailed',
        dead.index,
        err instanceof Error ? err : new Error(String(err)),
        attempt,
        retryInMs,
      );
      return;
    }
    if (this.#closed) return void replacement.worker.close();
    this.#workers[this.#workers.indexOf(dead)] = replacement;
    this.emit('workerReplaced', replacement);
  }
}
