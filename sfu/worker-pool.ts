import { EventEmitter } from 'node:events';
import { cpus } from 'node:os';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import { SfuError } from './errors.ts';

export type WorkerPoolOptions = {
  numWorkers?: number | undefined;
  listenIp: string;
  announcedIp?: string | undefined;
  /** First media port; worker i listens on basePort + i (UDP and TCP). 0 = any free port. */
  basePort: number;
  logLevel?: types.WorkerLogLevel;
};

/** One mediasoup worker process with its WebRtcServer: all its transports share one port. */
export type SfuWorker = {
  readonly index: number;
  readonly worker: types.Worker;
  readonly webRtcServer: types.WebRtcServer;
};

type PoolEvents = { workerDied: [index: number, error: Error]; workerReplaced: [worker: SfuWorker] };

export class WorkerPool extends EventEmitter<PoolEvents> {
  readonly #workers: SfuWorker[] = [];
  #closed = false;

  private constructor(private readonly opts: WorkerPoolOptions) {
    super();
  }

  static async create(opts: WorkerPoolOptions): Promise<WorkerPool> {
    const pool = new WorkerPool(opts);
    const n = opts.numWorkers ?? cpus().length;
    try {
      for (let i = 0; i < n; i++) pool.#workers.push(await pool.#spawn(i));
    } catch (err) {
      pool.close();
      throw err;
    }
    return pool;
  }

  get closed() {
    return this.#closed;
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
    const loads = await Promise.all(live.map(async (w) => ({ w, load: (await w.worker.dump()).routerIds.length })));
    loads.sort((a, b) => a.load - b.load || a.w.index - b.w.index);
    return loads[0]!.w;
  }

  pids(): number[] {
    return this.#workers.filter((w) => !w.worker.closed).map((w) => w.worker.pid);
  }

  close() {
    if (this.#closed) return;
    this.#closed = true;
    for (const w of this.#workers) w.worker.close();
  }

  async #spawn(index: number): Promise<SfuWorker> {
    const worker = await mediasoup.createWorker({ logLevel: this.opts.logLevel ?? 'warn' });
    const port = this.opts.basePort === 0 ? undefined : this.opts.basePort + index;
    const listen = { ip: this.opts.listenIp, announcedIp: this.opts.announcedIp, port };
    let webRtcServer: types.WebRtcServer;
    try {
      webRtcServer = await worker.createWebRtcServer({
        listenInfos: [
          { protocol: 'udp', ...listen },
          { protocol: 'tcp', ...listen },
        ],
      });
    } catch (err) {
      worker.close();
      throw err;
    }
    const sfuWorker: SfuWorker = { index, worker, webRtcServer };
    worker.on('died', (error) => void this.#onDied(sfuWorker, error));
    return sfuWorker;
  }

  async #onDied(dead: SfuWorker, error: Error) {
    this.emit('workerDied', dead.index, error);
    if (this.#closed) return;
    const replacement = await this.#spawn(dead.index).catch(() => undefined);
    if (!replacement) return;
    if (this.#closed) return replacement.worker.close();
    this.#workers[this.#workers.indexOf(dead)] = replacement;
    this.emit('workerReplaced', replacement);
  }
}
