import { availableParallelism } from 'node:os';
import sodium from 'libsodium-wrappers-sumo';
import type { AuthConfig } from '../config.ts';
import { HashPool, type HashLane, type HashQueueLimits } from './hash-pool.ts';

export type { HashLane };

/** Used where no configuration applies (scripts, tests): generous, the same as the config defaults. */
const DEFAULT_QUEUE: HashQueueLimits = { limit: 32, maxWaitMs: 3000 };

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

  static async create(
    strength: AuthConfig['passwordHashStrength'],
    queue: HashQueueLimits = DEFAULT_QUEUE,
  ): Promise<PasswordHasher> {
    await sodium.ready;
    const limits = {
      interactive: [sodium.crypto_pwhash_OPSLIMIT_INTERACTIVE, sodium.crypto_pwhash_MEMLIMIT_INTERACTIVE],
      moderate: [sodium.crypto_pwhash_OPSLIMIT_MODERATE, sodium.crypto_pwhash_MEMLIMIT_MODERATE],
      minimum: [sodium.crypto_pwhash_OPSLIMIT_MIN, sodium.crypto_pwhash_MEMLIMIT_MIN],
    } as const;
    const [ops, mem] = limits[strength];
    // Two threads at most: hashing is memory-hard (64 MiB each at the interactive limits) and the
    // media workers want the cores.
    const pool = new HashPool(Math.min(2, availableParallelism()), queue);
    const dummy = (await pool.run(
      { op: 'hash', password: `not-a-real-password-${Math.random()}`, ops, mem },
      'known',
    )) as string;
    return new PasswordHasher(pool, ops, mem, dummy);
  }

  /** Refused with a 503 (Retry-After) when the lane's queue is full or the wait too long. */
  async hash(password: string, lane: HashLane = 'known'): Promise<string> {
    return (await this.pool.run({ op: 'hash', password, ops: this.ops, mem: this.mem }, lane)) as string;
  }

  /** Always does the work of one verification, whether or not there is a hash. */
  async verify(
    hash: string | null | undefined,
    password: string,
    lane: HashLane = 'unknown',
  ): Promise<boolean> {
    const ok = (await this.pool.run(
      { op: 'verify', hash: hash || this.dummy, password, ops: this.ops, mem: this.mem },
      lane,
    )) as boolean;
    return Boolean(hash) && ok;
  }

  load() {
    return this.pool.load();
  }

  /** 503 at once if the lane's queue is full: shed before spending database work on a request. */
  assertRoom(lane: HashLane): void {
    this.pool.assertRoom(lane);
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
