import { randomFillSync } from 'node:crypto';
import sodium from 'libsodium-wrappers-sumo';
import type { DataKeyStore } from './data-key-store.ts';
import { assertId, associatedData, bytesToUuid, uuidToBytes } from './encoding.ts';
import { DecryptionError } from './errors.ts';

/**
 * Envelope of a sealed message, format 1:
 *   [format = 1][algorithm = 1: XChaCha20-Poly1305 IETF][data key id, 16 bytes][nonce, 24 bytes][ciphertext + 16-byte tag]
 * The header bytes, the scope and the record id are the associated data: altering the header, or
 * presenting the envelope for another record or conversation, fails authentication. A later
 * format or algorithm gets a new byte; openers refuse what they do not know instead of guessing.
 */
export const MESSAGE_FORMAT = 1;
export const ALG_XCHACHA20POLY1305 = 1;
const HEADER_BYTES = 2 + 16;
const NONCE_BYTES = 24;
const TAG_BYTES = 16;
export const MESSAGE_OVERHEAD = HEADER_BYTES + NONCE_BYTES + TAG_BYTES;

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export class MessageSealer {
  /** Data key ids as envelope bytes: parsed once per key, not once per message. */
  readonly #idBytes = new Map<string, Uint8Array>();

  constructor(private readonly keys: DataKeyStore) {}

  #keyIdBytes(id: string): Uint8Array {
    let bytes = this.#idBytes.get(id);
    if (!bytes) {
      if (this.#idBytes.size >= 10_000) this.#idBytes.clear();
      bytes = uuidToBytes(id);
      this.#idBytes.set(id, bytes);
    }
    return bytes;
  }

  /** Seals `plaintext` for one record (a message id) of one scope (a conversation id). */
  async seal(scope: string, recordId: string, plaintext: string | Uint8Array): Promise<Uint8Array> {
    assertId('record id', recordId);
    const { id, key } = await this.keys.keyForScope(scope);
    const body = typeof plaintext === 'string' ? utf8.encode(plaintext) : plaintext;
    const envelope = new Uint8Array(MESSAGE_OVERHEAD + body.length);
    envelope[0] = MESSAGE_FORMAT;
    envelope[1] = ALG_XCHACHA20POLY1305;
    envelope.set(this.#keyIdBytes(id), 2);
    // Node's CSPRNG: libsodium.js fetches randomness through a JS callback a few bytes at a time,
    // which made sealing several times slower than opening.
    const nonce = randomFillSync(envelope.subarray(HEADER_BYTES, HEADER_BYTES + NONCE_BYTES));
    const ad = messageAd(envelope.subarray(0, HEADER_BYTES), scope, recordId);
    envelope.set(
      sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(body, ad, null, nonce, key),
      HEADER_BYTES + NONCE_BYTES,
    );
    return envelope;
  }

  /** The plaintext bytes, or a DecryptionError; never partial or unauthenticated output. */
  async open(scope: string, recordId: string, envelope: Uint8Array): Promise<Uint8Array> {
    assertId('record id', recordId);
    if (!(envelope instanceof Uint8Array) || envelope.length < 2)
      throw new DecryptionError('ciphertext_invalid', 'not a sealed message');
    if (envelope[0] !== MESSAGE_FORMAT)
      throw new DecryptionError('envelope_unsupported', `unknown message format ${envelope[0]}`);
    if (envelope[1] !== ALG_XCHACHA20POLY1305)
      throw new DecryptionError('envelope_unsupported', `unknown message algorithm ${envelope[1]}`);
    if (envelope.length < MESSAGE_OVERHEAD)
      throw new DecryptionError('ciphertext_invalid', 'sealed message too short');
    const header = envelope.subarray(0, HEADER_BYTES);
    const key = await this.keys.keyById(bytesToUuid(header.subarray(2)), scope);
    try {
      return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
        null,
        envelope.subarray(HEADER_BYTES + NONCE_BYTES),
        messageAd(header, scope, recordId),
        envelope.subarray(HEADER_BYTES, HEADER_BYTES + NONCE_BYTES),
        key,
      );
    } catch {
      throw new DecryptionError('ciphertext_invalid', 'sealed message failed authentication');
    }
  }

  /** As open(), decoded as UTF-8 (text that does not decode is an error, not replacement characters). */
  async openText(scope: string, recordId: string, envelope: Uint8Array): Promise<string> {
    const bytes = await this.open(scope, recordId, envelope);
    try {
      return strictUtf8.decode(bytes);
    } catch {
      throw new DecryptionError('ciphertext_invalid', 'sealed message is not UTF-8 text');
    }
  }
}

const messageAd = (header: Uint8Array, scope: string, recordId: string) =>
  associatedData('carecall.message.v1', [header, scope, recordId]);
