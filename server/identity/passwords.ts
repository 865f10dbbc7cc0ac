import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import sodium from 'libsodium-wrappers-sumo';
import type { AuthConfig } from '../config.ts';

type Job = { id: number; op: 'hash' | 'verify'; password: string; hash?: string; ops: number; mem: number };
type Pending = { resolve: (v: string | boolean) => void; reject: (e: Error) => void };

/**
 * Worker threads for argon2id: one hash takes 100-250 ms of CPU at the interactive limits, which on
 * the event loop would stall every request and WebSocket of the node meanwhile. Jobs go to the
 * thread with the fewest in flight. Threads are unreferenced while idle so they never keep a
 * process alive.
 */
class HashPool {
  readonly #slots: { worker: Worker; pending: Map<number, Pending> }[] = [];
  #nextId = 0;
  #closed = false;

  constructor(size: number) {
    for (let i = 0; i < size; i++) this.#slots.push(this.#spawn());
  }

  /** A thread that dies (out of memory, a crash) fails its own jobs and is replaced, so later jobs never wait on it. */
  #spawn(): { worker: Worker; pending: Map<number, Pending> } {
    const worker = new Worker(new URL('./password-worker.mjs', import.meta.url));
    const slot = { worker, pending: new Map<number, Pending>() };
    worker.on('message', ({ id, result, error }: { id: number; result?: string | boolean; error?: string }) => {
      const job = slot.pending.get(id);
      slot.pending.delete(id);
      if (!slot.pending.size) worker.unref();
      if (error !== undefined) job?.reject(new Error(error));
      else job?.resolve(result!);
    });
    const died = (err: Error) => {
      for (const job of slot.pending.values()) job.reject(err);
      slot.pending.clear();
      const i = this.#slots.indexOf(slot);
      if (!this.#closed && i >= 0) this.#slots[i] = this.#spawn();
    };
    worker.on('error', died);
    worker.on('exit', (code) => died(new Error(`password hashing thread exited (${code})`)));
    worker.unref();
    return slot;
  }

  run(job: Omit<Job, 'id'>): Promise<string | boolean> {
    const target = this.#slots.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      target.pending.set(id, { resolve, reject });
      target.worker.ref();
      target.worker.postMessage({ ...job, id });
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#slots.map(({ worker }) => worker.terminate()));
  }

  /** For tests: stops one thread as a crash would. */
  crashOne(): Promise<number> {
    return this.#slots[0]!.worker.terminate();
  }
}

/**
 * argon2id via libsodium crypto_pwhash_str (the sumo build: the standard libsodium-wrappers build
 * does not include crypto_pwhash), computed on worker threads. The string stores its own
 * parameters, so raising the strength later still verifies old hashes, and needsRehash() upgrades
 * them at the next login.
 */
export class PasswordHasher {
  private constructor(
    private readonly pool: HashPool,
    private readonly ops: number,
    private readonly mem: number,
    /** Verified against when the account does not exist, so timing does not reveal which e-mails are registered. */
    private readonly dummy: string,
  ) {}

  static async create(strength: AuthConfig['passwordHashStrength']): Promise<PasswordHasher> {
    await sodium.ready;
    const limits = {
      interactive: [sodium.crypto_pwhash_OPSLIMIT_INTERACTIVE, sodium.crypto_pwhash_MEMLIMIT_INTERACTIVE],
      moderate: [sodium.crypto_pwhash_OPSLIMIT_MODERATE, sodium.crypto_pwhash_MEMLIMIT_MODERATE],
      minimum: [sodium.crypto_pwhash_OPSLIMIT_MIN, sodium.crypto_pwhash_MEMLIMIT_MIN],
    } as const;
    const [ops, mem] = limits[strength];
    // Two threads at most: hashing is memory-hard (64 MiB each at the interactive limits) and the
    // media workers want the cores.
    const pool = new HashPool(Math.min(2, availableParallelism()));
    const dummy = (await pool.run({ op: 'hash', password: `not-a-real-password-${Math.random()}`, ops, mem })) as string;
    return new PasswordHasher(pool, ops, mem, dummy);
  }

  async hash(password: string): Promise<string> {
    return (await this.pool.run({ op: 'hash', password, ops: this.ops, mem: this.mem })) as string;
  }

  /** Always does the work of one verification, whether or not there is a hash. */
  async verify(hash: string | null | undefined, password: string): Promise<boolean> {
    const ok = (await this.pool.run({ op: 'verify', hash: hash || this.dummy, password, ops: this.ops, mem: this.mem })) as boolean;
    return Boolean(hash) && ok;
  }

  needsRehash(hash: string): boolean {
    return sodium.crypto_pwhash_str_needs_rehash(hash, this.ops, this.mem);
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  /** For tests: one hashing thread dies as it would on a crash. */
  crashThread(): Promise<number> {
    return this.pool.crashOne();
  }
}
