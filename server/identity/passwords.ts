import sodium from 'libsodium-wrappers-sumo';
import type { AuthConfig } from '../config.ts';

/**
 * argon2id via libsodium crypto_pwhash_str (the sumo build: the standard libsodium-wrappers build
 * does not include crypto_pwhash). The string stores its own parameters, so raising the strength
 * later still verifies old hashes, and needsRehash() upgrades them at the next login.
 */
export class PasswordHasher {
  #ops: number;
  #mem: number;
  #dummy: string;

  private constructor(ops: number, mem: number) {
    this.#ops = ops;
    this.#mem = mem;
    // Verified against when the account does not exist, so timing does not reveal which e-mails are registered.
    this.#dummy = sodium.crypto_pwhash_str('not-a-real-password-' + Math.random(), ops, mem);
  }

  static async create(strength: AuthConfig['passwordHashStrength']): Promise<PasswordHasher> {
    await sodium.ready;
    const limits = {
      interactive: [sodium.crypto_pwhash_OPSLIMIT_INTERACTIVE, sodium.crypto_pwhash_MEMLIMIT_INTERACTIVE],
      moderate: [sodium.crypto_pwhash_OPSLIMIT_MODERATE, sodium.crypto_pwhash_MEMLIMIT_MODERATE],
      minimum: [sodium.crypto_pwhash_OPSLIMIT_MIN, sodium.crypto_pwhash_MEMLIMIT_MIN],
    } as const;
    const [ops, mem] = limits[strength];
    return new PasswordHasher(ops, mem);
  }

  hash(password: string): string {
    return sodium.crypto_pwhash_str(password, this.#ops, this.#mem);
  }

  /** Always does the work of one verification, whether or not there is a hash. */
  verify(hash: string | null | undefined, password: string): boolean {
    if (!hash) {
      sodium.crypto_pwhash_str_verify(this.#dummy, password);
      return false;
    }
    try {
      return sodium.crypto_pwhash_str_verify(hash, password);
    } catch {
      return false;
    }
  }

  needsRehash(hash: string): boolean {
    return sodium.crypto_pwhash_str_needs_rehash(hash, this.#ops, this.#mem);
  }
}
