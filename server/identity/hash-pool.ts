import { Worker } from 'node:worker_threads';
import { ProblemError } from '../api/errors.ts';
import { PROBLEM } from '../api/problem-codes.ts';

export type HashJob = { op: 'hash' | 'verify'; password: string; hash?: string; ops: number; mem: number };
/**
 * Who the work is for. `known`: a browser that completed a sign-in to the account before, a
 * signed-in user, a valid invitation. `unknown`: anyone else (first sign-ins, and every attacker).
 */
export type HashLane = 'known' | 'unknown';
export type HashQueueLimits = { limit: number; maxWaitMs: number };

type Queued = HashJob & {
  id: number;
  lane: HashLane;
  resolve: (v: string | boolean) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
};
type Slot = { worker: Worker; job: Queued | undefined };

/** How long a shed client is asked to wait before it tries again. */
export const HASH_RETRY_AFTER_SECONDS = 2;

const overloaded = (why: string) =>
  new ProblemError(
    503,
    PROBLEM.overloaded,
    `sign-in is busy (${why}); retry in ${HASH_RETRY_AFTER_SECONDS} seconds`,
    [],
    HASH_RETRY_AFTER_SECONDS,
  );

/**
 * Worker threads for argon2id: one hash takes 100-250 ms of CPU at the interactive limits, which on
 * the event loop would stall every request and WebSocket of the node meanwhile.
 *
 * Each thread runs one job at a time; jobs wait here, in one bounded queue per lane, and a job that
 * cannot start within `maxWaitMs` (or finds its queue full) is refused with a 503 at once: a flood
 * costs its senders errors, not everyone minutes. Known work goes first, unknown work may never
 * occupy the last free thread (with two or more) and does not start while known work runs, so a
 * flood of anonymous requests cannot make a returning user wait for more than the known work ahead.
 * Threads are unreferenced while idle so they never keep a process alive.
 */
export class HashPool {
  readonly #slots: Slot[] = [];
  readonly #queues: Record<HashLane, Queued[]> = { known: [], unknown: [] };
  #nextId = 0;
  #closed = false;
  readonly #started: Record<HashLane, number> = { known: 0, unknown: 0 };

  constructor(
    size: number,
    private readonly limits: HashQueueLimits,
  ) {
    for (let i = 0; i < size; i++) this.#slots.push(this.#spawn());
  }

  /** A thread that dies (out of memory, a crash) fails its own job and is replaced, so later jobs never wait on it. */
  #spawn(): Slot {
    const worker = new Worker(new URL('./password-worker.mjs', import.meta.url));
    const slot: Slot = { worker, job: undefined };
    worker.on(
      'message',
      ({ id, result, error }: { id: number; result?: string | boolean; error?: string }) => {
        const job = slot.job;
        if (!job || job.id !== id) return;
        slot.job = undefined;
        worker.unref();
        if (error !== undefined) job.reject(new Error(error));
        else job.resolve(result!);
        this.#pump();
      },
    );
    const died = (err: Error) => {
      const job = slot.job;
      slot.job = undefined;
      job?.reject(err);
      const i = this.#slots.indexOf(slot);
      if (!this.#closed && i >= 0) {
        this.#slots[i] = this.#spawn();
        this.#pump();
      }
    };
    worker.on('error', died);
    worker.on('exit', (code) => died(new Error(`password hashing thread exited (${code})`)));
    worker.unref();
    return slot;
  }

  /**
   * Refuses (the same 503) when the lane's queue is full already, so that callers can shed a request
   * before doing any other work for it: under a flood most requests then cost the node next to nothing.
   */
  assertRoom(lane: HashLane): void {
    if (this.#queues[lane].length >= this.limits.limit) throw overloaded('queue full');
  }

  run(job: HashJob, lane: HashLane): Promise<string | boolean> {
    if (this.#closed) return Promise.reject(new Error('password hashing is shut down'));
    const queue = this.#queues[lane];
    if (queue.length >= this.limits.limit) return Promise.reject(overloaded('queue full'));
    return new Promise((resolve, reject) => {
      const queued: Queued = {
        ...job,
        id: this.#nextId++,
        lane,
        resolve,
        reject,
        timer: undefined as unknown as NodeJS.Timeout,
      };
      queued.timer = setTimeout(() => {
        const i = queue.indexOf(queued);
        if (i >= 0) queue.splice(i, 1);
        reject(overloaded('waited too long'));
      }, this.limits.maxWaitMs);
      queued.timer.unref();
      queue.push(queued);
      this.#pump();
    });
  }

  /** Per lane: jobs waiting, threads busy, jobs started since the pool was made (for metrics and tests). */
  load(): Record<HashLane, { waiting: number; running: number; started: number }> {
    const lane = (l: HashLane) => ({
      waiting: this.#queues[l].length,
      running: this.#slots.filter((s) => s.job?.lane === l).length,
      started: this.#started[l],
    });
    return { known: lane('known'), unknown: lane('unknown') };
  }

  #pump() {
    for (const slot of this.#slots) {
      if (slot.job) continue;
      const job = this.#next();
      if (!job) return;
      clearTimeout(job.timer);
      this.#started[job.lane]++;
      slot.job = job;
      slot.worker.ref();
      const { resolve: _r, reject: _j, timer: _t, lane: _l, ...message } = job;
      slot.worker.postMessage(message);
    }
  }

  #next(): Queued | undefined {
    if (this.#queues.known.length) return this.#queues.known.shift();
    // While known work runs, no unknown job starts: the known hash gets the cores it needs (each is
    // memory-hard and CPU-bound) instead of sharing them with a flood's.
    if (this.#slots.some((s) => s.job?.lane === 'known')) return undefined;
    const reserved = this.#slots.length > 1 ? 1 : 0;
    const unknownRunning = this.#slots.filter((s) => s.job?.lane === 'unknown').length;
    if (unknownRunning >= this.#slots.length - reserved) return undefined;
    return this.#queues.unknown.shift();
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const queue of Object.values(this.#queues)) {
      for (const job of queue.splice(0)) {
        clearTimeout(job.timer);
        job.reject(new Error('password hashing is shut down'));
      }
    }
    await Promise.all(this.#slots.map(({ worker }) => worker.terminate()));
  }

  /** For tests: stops one thread as a crash would. */
  crashOne(): Promise<number> {
    return this.#slots[0]!.worker.terminate();
  }
}
