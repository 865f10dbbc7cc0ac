import sodium from 'libsodium-wrappers-sumo';
import type { DataEncryptionConfig } from '../config.ts';
import { associatedData } from './encoding.ts';
import { DecryptionError, KeyUnavailableError } from './errors.ts';

export type Kek = { version: number; key: Uint8Array };

/** Layout of a wrapped data key: format byte, XChaCha20-Poly1305 nonce, the sealed 32-byte key. */
const WRAP_FORMAT = 1;
const NONCE_BYTES = 24;
const KEY_BYTES = 32;
const WRAPPED_BYTES = 1 + NONCE_BYTES + KEY_BYTES + 16;

/**
 * The key-encryption keys this node holds: the current one wraps new data keys; the others only
 * unwrap, until every data key has been re-wrapped under the current version. Each wrapped key is
 * bound to its row (id, scope, KEK version) by associated data, so a wrapped key copied to another
 * row, or a row relabelled with another version, does not open.
 */
export class KekRing {
  readonly #keys = new Map<number, Uint8Array>();

  constructor(
    readonly current: Kek,
    previous: readonly Kek[] = [],
    /** True when the current KEK was generated for this process (no DATA_KEK configured). */
    readonly ephemeral = false,
  ) {
    for (const k of [current, ...previous]) {
      if (k.key.length !== KEY_BYTES) throw new Error(`KEK version ${k.version} must be 32 bytes`);
      if (this.#keys.has(k.version)) throw new Error(`KEK version ${k.version} given twice`);
      this.#keys.set(k.version, Uint8Array.from(k.key));
    }
  }

  get versions(): number[] {
    return [...this.#keys.keys()];
  }

  wrap(dataKey: Uint8Array, keyId: string, scope: string): { kekVersion: number; wrappedKey: Uint8Array } {
    const nonce = sodium.randombytes_buf(NONCE_BYTES);
    const ad = wrapAd(keyId, scope, this.current.version);
    const sealed = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
      dataKey,
      ad,
      null,
      nonce,
      this.#keys.get(this.current.version)!,
    );
    const out = new Uint8Array(WRAPPED_BYTES);
    out[0] = WRAP_FORMAT;
    out.set(nonce, 1);
    out.set(sealed, 1 + NONCE_BYTES);
    return { kekVersion: this.current.version, wrappedKey: out };
  }

  /** Throws KeyUnavailableError (version not configured) or DecryptionError data_key_invalid. */
  unwrap(wrappedKey: Uint8Array, kekVersion: number, keyId: string, scope: string): Uint8Array {
    const kek = this.#keys.get(kekVersion);
    if (!kek) throw new KeyUnavailableError(kekVersion);
    if (wrappedKey.length !== WRAPPED_BYTES || wrappedKey[0] !== WRAP_FORMAT) {
      throw new DecryptionError(
        'data_key_invalid',
        `data key ${keyId} is not a wrapped key of a known format`,
      );
    }
    try {
      return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
        null,
        wrappedKey.subarray(1 + NONCE_BYTES),
        wrapAd(keyId, scope, kekVersion),
        wrappedKey.subarray(1, 1 + NONCE_BYTES),
        kek,
      );
    } catch {
      throw new DecryptionError(
        'data_key_invalid',
        `data key ${keyId} does not open under KEK version ${kekVersion}`,
      );
    }
  }
}

const wrapAd = (keyId: string, scope: string, kekVersion: number) =>
  associatedData('carecall.data-key.v1', [keyId, scope, String(kekVersion)]);

/**
 * The ring from configuration. Without DATA_KEK (refused in production by the config module) the
 * current key is random for this process, and the caller is told to warn: data keys wrapped by an
 * earlier process cannot be unwrapped by this one.
 */
export async function kekRingFromConfig(
  config: DataEncryptionConfig,
  warn: (message: string) => void,
): Promise<KekRing> {
  await sodium.ready;
  if (config.kek) return new KekRing(config.kek, config.previousKeks);
  warn(
    'DATA_KEK not set: data keys are wrapped with a per-process key, so data encrypted by earlier runs cannot be read (development only)',
  );
  const taken = new Set(config.previousKeks.map((k) => k.version));
  let version = 1;
  while (taken.has(version)) version++;
  return new KekRing({ version, key: sodium.randombytes_buf(KEY_BYTES) }, config.previousKeks, true);
}
