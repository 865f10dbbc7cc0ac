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

const EXIT_GRACE_MS = 3000;

function isRunning(pid: number) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

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
      await pool.close();
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

  /** Resolves once every worker process has exited, so a stopping node leaves no orphans. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const pids = this.pids();
    for (const w of this.#workers) w.worker.close(); // sends SIGTERM
    const deadline = Date.now() + EXIT_GRACE_MS;
    while (pids.some(isRunning) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const pid of pids.filter(isRunning)) process.kill(pid, 'SIGKILL');
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
    if (this.#closed) return void replacement.worker.close();
    this.#workers[this.#workers.indexOf(dead)] = replacement;
    this.emit('workerReplaced', replacement);
  }
}
