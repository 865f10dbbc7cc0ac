import { Transform, type TransformCallback } from 'node:stream';
import sodium from 'libsodium-wrappers-sumo';
import type { DataKeyStore } from './data-key-store.ts';
import { assertId, associatedData, bytesToUuid, uuidToBytes } from './encoding.ts';
import { DecryptionError } from './errors.ts';
import { ByteQueue } from './byte-queue.ts';

/**
 * Encrypted file, format 1 (libsodium secretstream, XChaCha20-Poly1305):
 *   header: "CCF" 0x01 | algorithm 0x01 | log2(chunk size) | data key id (16) | secretstream header (24)
 *   then chunks of `chunk size` plaintext bytes, each sealed to chunk size + 17 bytes; the last one
 *   (possibly short, possibly empty) carries the FINAL tag. The header, scope and record id are the
 *   associated data of every chunk. Reordered, dropped, altered or appended chunks fail; a file cut
 *   at a chunk boundary is stream_truncated. Memory: about two chunks per stream, whatever the size.
 */
// libsodium.js keeps each stream's state (about 60 bytes) in its WebAssembly heap and offers no way
// to free it: a million files cost about 60 MB over a process's life (measured), nothing per byte.
type StateAddress = ReturnType<typeof sodium.crypto_secretstream_xchacha20poly1305_init_pull>;

const MAGIC = [0x43, 0x43, 0x46, 0x01];
const ALG_SECRETSTREAM_XCHACHA20POLY1305 = 1;
const PREFIX_BYTES = 4 + 1 + 1 + 16;
const STREAM_HEADER_BYTES = 24;
export const FILE_HEADER_BYTES = PREFIX_BYTES + STREAM_HEADER_BYTES;
const CHUNK_ABYTES = 17;
export const DEFAULT_CHUNK_SIZE = 64 * 1024;
const MIN_CHUNK_LOG2 = 10;
const MAX_CHUNK_LOG2 = 22;

/** Encrypted size of a file of `plainSize` bytes (for Content-Length and quota checks). */
export function encryptedSize(plainSize: number, chunkSize = DEFAULT_CHUNK_SIZE): number {
  const chunks = Math.max(1, Math.ceil(plainSize / chunkSize));
  return FILE_HEADER_BYTES + plainSize + chunks * CHUNK_ABYTES;
}

export class FileCipher {
  readonly #chunkLog2: number;

  constructor(
    private readonly keys: DataKeyStore,
    opts: { chunkSize?: number } = {},
  ) {
    const size = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
    this.#chunkLog2 = Math.log2(size);
    if (
      !Number.isInteger(this.#chunkLog2) ||
      this.#chunkLog2 < MIN_CHUNK_LOG2 ||
      this.#chunkLog2 > MAX_CHUNK_LOG2
    ) {
      throw new Error(
        `chunk size must be a power of two from ${2 ** MIN_CHUNK_LOG2} to ${2 ** MAX_CHUNK_LOG2}`,
      );
    }
  }

  /** A Transform from plaintext to the encrypted format, under the scope's data key. */
  async encryptStream(scope: string, recordId: string): Promise<Transform> {
    assertId('record id', recordId);
    const { id, key } = await this.keys.keyForScope(scope);
    const prefix = Uint8Array.from([
      ...MAGIC,
      ALG_SECRETSTREAM_XCHACHA20POLY1305,
      this.#chunkLog2,
      ...uuidToBytes(id),
    ]);
    return new EncryptTransform(key, prefix, fileAd(prefix, scope, recordId), 2 ** this.#chunkLog2);
  }

  /** A Transform from the encrypted format back to plaintext; errors are DecryptionError. */
  decryptStream(scope: string, recordId: string): Transform {
    assertId('scope', scope);
    assertId('record id', recordId);
    return new DecryptTransform(async (prefix) => ({
      key: await this.keys.keyById(bytesToUuid(prefix.subarray(6, 22)), scope),
      ad: fileAd(prefix, scope, recordId),
    }));
  }
}

const fileAd = (prefix: Uint8Array, scope: string, recordId: string) =>
  associatedData('carecall.file.v1', [prefix, scope, recordId]);

class EncryptTransform extends Transform {
  readonly #queue = new ByteQueue();
  readonly #state: StateAddress;

  constructor(
    key: Uint8Array,
    prefix: Uint8Array,
    private readonly ad: Uint8Array,
    private readonly chunkSize: number,
  ) {
    super();
    const { state, header } = sodium.crypto_secretstream_xchacha20poly1305_init_push(key);
    this.#state = state;
    const head = new Uint8Array(FILE_HEADER_BYTES);
    head.set(prefix, 0);
    head.set(header, PREFIX_BYTES);
    this.push(head);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.#queue.append(chunk);
    // Strictly more than a chunk: the last full chunk may turn out to be the final one.
    while (this.#queue.length > this.chunkSize)
      this.#seal(this.#queue.take(this.chunkSize), sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
    done();
  }

  override _flush(done: TransformCallback): void {
    this.#seal(this.#queue.take(this.#queue.length), sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL);
    done();
  }

  #seal(plain: Uint8Array, tag: number): void {
    this.push(sodium.crypto_secretstream_xchacha20poly1305_push(this.#state, plain, this.ad, tag));
  }
}

type KeyResolver = (prefix: Uint8Array) => Promise<{ key: Uint8Array; ad: Uint8Array }>;

class DecryptTransform extends Transform {
  readonly #queue = new ByteQueue();
  #state: StateAddress | undefined;
  #ad: Uint8Array | undefined;
  #cipherChunk = 0;
  #finished = false;

  constructor(private readonly resolveKey: KeyResolver) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.#queue.append(chunk);
    this.#drain(false).then(() => done(), done);
  }

  override _flush(done: TransformCallback): void {
    this.#drain(true).then(() => done(), done);
  }

  async #drain(atEnd: boolean): Promise<void> {
    if (!this.#state) {
      if (this.#queue.length < FILE_HEADER_BYTES) {
        if (atEnd)
          throw new DecryptionError(
            this.#queue.length === 0 ? 'stream_truncated' : 'ciphertext_invalid',
            'encrypted file has no complete header',
          );
        return;
      }
      await this.#open(this.#queue.take(FILE_HEADER_BYTES));
    }
    while (this.#queue.length >= this.#cipherChunk) this.#pull(this.#queue.take(this.#cipherChunk));
    if (!atEnd) return;
    if (this.#queue.length > 0) this.#pull(this.#queue.take(this.#queue.length));
    if (!this.#finished)
      throw new DecryptionError('stream_truncated', 'encrypted file ended before its final chunk');
  }

  async #open(head: Uint8Array): Promise<void> {
    if (!MAGIC.every((b, i) => head[i] === b))
      throw new DecryptionError(
        head[0] === MAGIC[0] && head[1] === MAGIC[1] && head[2] === MAGIC[2]
          ? 'envelope_unsupported'
          : 'ciphertext_invalid',
        'not an encrypted file of a known format',
      );
    if (head[4] !== ALG_SECRETSTREAM_XCHACHA20POLY1305)
      throw new DecryptionError('envelope_unsupported', `unknown file algorithm ${head[4]}`);
    const log2 = head[5]!;
    // The chunk size is read before authentication: bounded, so a forged header cannot make us buffer gigabytes.
    if (log2 < MIN_CHUNK_LOG2 || log2 > MAX_CHUNK_LOG2)
      throw new DecryptionError('ciphertext_invalid', 'encrypted file header is invalid');
    const prefix = head.slice(0, PREFIX_BYTES);
    const { key, ad } = await this.resolveKey(prefix);
    try {
      this.#state = sodium.crypto_secretstream_xchacha20poly1305_init_pull(head.subarray(PREFIX_BYTES), key);
    } catch {
      throw new DecryptionError('ciphertext_invalid', 'encrypted file header is invalid');
    }
    this.#ad = ad;
    this.#cipherChunk = 2 ** log2 + CHUNK_ABYTES;
  }

  #pull(cipher: Uint8Array): void {
    if (this.#finished)
      throw new DecryptionError('ciphertext_invalid', 'data after the final chunk of an encrypted file');
    const opened =
      cipher.length >= CHUNK_ABYTES
        ? sodium.crypto_secretstream_xchacha20poly1305_pull(this.#state!, cipher, this.#ad!)
        : false;
    if (!opened)
      throw new DecryptionError('ciphertext_invalid', 'encrypted file chunk failed authentication');
    if (opened.tag === sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL) this.#finished = true;
    else if (opened.tag !== sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)
      throw new DecryptionError('ciphertext_invalid', 'encrypted file chunk has an unexpected tag');
    if (opened.message.length > 0) this.push(opened.message);
  }
}
