import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import sodium from 'libsodium-wrappers-sumo';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, openTestEngine } from '../../test/helpers/engines.ts';
import { LocalDiskBlobStore } from '../storage/local-disk-blob-store.ts';
import { DataKeyStore } from './data-key-store.ts';
import { DecryptionError } from './errors.ts';
import { FILE_HEADER_BYTES, FileCipher, encryptedSize } from './file-cipher.ts';
import { KekRing } from './kek-ring.ts';

const CHUNK = 1024;
const CIPHER_CHUNK = CHUNK + 17;

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const p of stream) parts.push(Buffer.from(p as Uint8Array));
  return Buffer.concat(parts);
}

/** Feeds `data` in pieces of random sizes, so chunk boundaries never line up with writes. */
function jagged(data: Uint8Array): Readable {
  let at = 0;
  return new Readable({
    read() {
      if (at >= data.length) return void this.push(null);
      const n = 1 + Math.floor(Math.random() * 3000);
      this.push(data.subarray(at, at + n));
      at += n;
    },
  });
}

describe.each(ENGINES)('file encryption on %s', (engine) => {
  let db: Awaited<ReturnType<typeof openTestEngine>>;
  let files: FileCipher;
  let keys: DataKeyStore;
  const scope = 'conversation:3d1c2b7e-8f0a-4b4e-9c1d-5a6b7c8d9e0f';
  beforeAll(async () => {
    await sodium.ready;
    db = await openTestEngine(engine);
    keys = new DataKeyStore(db.handle.db, new KekRing({ version: 1, key: randomBytes(32) }));
    // Small chunks so that tests can cut and shuffle a few of them.
    files = new FileCipher(keys, { chunkSize: CHUNK });
  });
  afterAll(() => db?.close());

  const encrypt = async (plain: Uint8Array, recordId = 'file-1') =>
    collect(jagged(plain).pipe(await files.encryptStream(scope, recordId)));
  const decrypt = (cipher: Uint8Array, recordId = 'file-1', s = scope) =>
    collect(jagged(cipher).pipe(files.decryptStream(s, recordId)));
  const decryptError = (cipher: Uint8Array, recordId = 'file-1', s = scope) =>
    pipeline(Readable.from([Buffer.from(cipher)]), files.decryptStream(s, recordId), devNull()).then(
      () => undefined,
      (err: unknown) => err,
    );

  it.each([0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 5 * CHUNK + 77])(
    'round-trips %i bytes, with the size encryptedSize() predicts',
    async (size) => {
      const plain = randomBytes(size);
      const cipher = await encrypt(plain);
      expect(cipher.length).toBe(encryptedSize(size, CHUNK));
      expect((await decrypt(cipher)).equals(plain)).toBe(true);
    },
  );

  it('a flipped byte in the header, the key id, the stream header, a chunk or a tag is a typed error', async () => {
    const cipher = await encrypt(randomBytes(3 * CHUNK + 10));
    const at = {
      magic: 0,
      version: 3,
      algorithm: 4,
      chunkSize: 5,
      keyId: 10,
      streamHeader: 30,
      firstChunk: FILE_HEADER_BYTES + 5,
      middleChunkTag: FILE_HEADER_BYTES + 2 * CIPHER_CHUNK - 1,
      lastTag: cipher.length - 1,
    };
    const codes: Record<string, string> = {};
    for (const [name, i] of Object.entries(at)) {
      const bad = Buffer.from(cipher);
      bad[i]! ^= 0x01;
      const err = await decryptError(bad);
      expect(err, name).toBeInstanceOf(DecryptionError);
      codes[name] = (err as DecryptionError).code;
    }
    expect(codes).toEqual({
      magic: 'ciphertext_invalid',
      version: 'envelope_unsupported',
      algorithm: 'envelope_unsupported',
      chunkSize: 'ciphertext_invalid',
      keyId: 'ciphertext_invalid',
      streamHeader: 'ciphertext_invalid',
      firstChunk: 'ciphertext_invalid',
      middleChunkTag: 'ciphertext_invalid',
      lastTag: 'ciphertext_invalid',
    });
  });

  it('a file cut at a chunk boundary is stream_truncated; cut inside a chunk, or emptied, it fails too', async () => {
    const cipher = await encrypt(randomBytes(3 * CHUNK + 10));
    expect(await decryptError(cipher.subarray(0, FILE_HEADER_BYTES + 2 * CIPHER_CHUNK))).toMatchObject({
      code: 'stream_truncated',
    });
    expect(await decryptError(cipher.subarray(0, FILE_HEADER_BYTES))).toMatchObject({
      code: 'stream_truncated',
    });
    expect(await decryptError(cipher.subarray(0, cipher.length - 5))).toMatchObject({
      code: 'ciphertext_invalid',
    });
    expect(await decryptError(cipher.subarray(0, 10))).toMatchObject({ code: 'ciphertext_invalid' });
    expect(await decryptError(new Uint8Array(0))).toMatchObject({ code: 'stream_truncated' });
  });

  it('reordered or duplicated chunks, or bytes after the final chunk, fail', async () => {
    const cipher = await encrypt(randomBytes(3 * CHUNK + 10));
    const head = cipher.subarray(0, FILE_HEADER_BYTES);
    const c = (i: number) =>
      cipher.subarray(FILE_HEADER_BYTES + i * CIPHER_CHUNK, FILE_HEADER_BYTES + (i + 1) * CIPHER_CHUNK);
    const rest = cipher.subarray(FILE_HEADER_BYTES + 3 * CIPHER_CHUNK);
    expect(await decryptError(Buffer.concat([head, c(1), c(0), c(2), rest]))).toMatchObject({
      code: 'ciphertext_invalid',
    });
    expect(await decryptError(Buffer.concat([head, c(0), c(0), c(1), c(2), rest]))).toMatchObject({
      code: 'ciphertext_invalid',
    });
    expect(await decryptError(Buffer.concat([cipher, Buffer.from('appended')]))).toMatchObject({
      code: 'ciphertext_invalid',
    });
  });

  it('another record id or conversation does not open it (the file cannot be moved)', async () => {
    const cipher = await encrypt(randomBytes(2 * CHUNK));
    expect(await decryptError(cipher, 'file-2')).toMatchObject({ code: 'ciphertext_invalid' });
    await files.encryptStream('conversation:other', 'x');
    expect(await decryptError(cipher, 'file-1', 'conversation:other')).toMatchObject({
      code: 'ciphertext_invalid',
    });
  });

  it('under a wrong KEK the file does not open (data_key_invalid), and nothing is output', async () => {
    const cipher = await encrypt(randomBytes(2 * CHUNK));
    const wrong = new FileCipher(
      new DataKeyStore(db.handle.db, new KekRing({ version: 1, key: randomBytes(32) })),
      { chunkSize: CHUNK },
    );
    const out: Buffer[] = [];
    const err = await pipeline(
      Readable.from([cipher]),
      wrong.decryptStream(scope, 'file-1'),
      new Transform({ transform: (c: Buffer, _e, done) => (out.push(c), done()) }),
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'DecryptionError', code: 'data_key_invalid' });
    expect(out).toEqual([]);
  });

  it('50 MB streamed plaintext -> encrypt -> disk blob store -> decrypt is byte-identical', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'carecall-blobs-'));
    try {
      const store = await LocalDiskBlobStore.open(dir);
      const big = new FileCipher(keys);
      const total = 50 * 1024 * 1024;
      const piece = randomBytes(1024 * 1024 + 7);
      const source = createHash('sha256');
      let sent = 0;
      const input = new Readable({
        read() {
          if (sent >= total) return void this.push(null);
          const p = piece.subarray(0, Math.min(piece.length, total - sent));
          sent += p.length;
          source.update(p);
          this.push(p);
        },
      });
      const info = await store.put('blob-50mb', input.pipe(await big.encryptStream(scope, 'file-50mb')));
      expect(info.size).toBe(encryptedSize(total));
      const out = createHash('sha256');
      let received = 0;
      await pipeline(
        await store.get('blob-50mb'),
        big.decryptStream(scope, 'file-50mb'),
        new Transform({
          transform(c: Buffer, _e, done) {
            out.update(c);
            received += c.length;
            done();
          },
        }),
      );
      expect(received).toBe(total);
      expect(out.digest('hex')).toBe(source.digest('hex'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

const devNull = () => new Transform({ transform: (_c, _e, done) => done() });
