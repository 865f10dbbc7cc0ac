// Encryption-at-rest benchmark: message seal/open ops/s (cached data key), file encryption and
// decryption MB/s through the local-disk blob store, and the process's RSS growth while a 1 GB
// file streams through, against a baseline of the same bytes through the same store unencrypted.
// Prints JSON and a table. Usage: npm run loadtest:crypto
// Env: FILE_MB (1024), MESSAGES (100000), MESSAGE_BYTES (300), BLOB_DIR (a fresh dir under the OS temp dir).
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { openDb } from '../../db/client.ts';
import { createDataEncryption } from '../../server/crypto/index.ts';
import { DEFAULT_CHUNK_SIZE, encryptedSize } from '../../server/crypto/file-cipher.ts';
import { LocalDiskBlobStore } from '../../server/storage/local-disk-blob-store.ts';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const FILE_MB = env('FILE_MB', 1024);
const MESSAGES = env('MESSAGES', 100_000);
const MESSAGE_BYTES = env('MESSAGE_BYTES', 300);
const TARGET_MB_PER_S = 150;
const TARGET_RSS_GROWTH_MB = 64;
const MiB = 1024 * 1024;

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;
const rssMb = () => process.memoryUsage.rss() / MiB;

/** FILE_MB of pseudo-random bytes from one 1 MiB random block (views, no copies), and their sha256. */
function source(totalBytes: number, block: Buffer): { stream: Readable } {
  let sent = 0;
  return {
    stream: new Readable({
      highWaterMark: MiB,
      read() {
        if (sent >= totalBytes) return void this.push(null);
        const n = Math.min(block.length, totalBytes - sent);
        sent += n;
        this.push(block.subarray(0, n));
      },
    }),
  };
}

function expectedSha256(totalBytes: number, block: Buffer): string {
  const h = createHash('sha256');
  for (let sent = 0; sent < totalBytes; sent += block.length)
    h.update(block.subarray(0, Math.min(block.length, totalBytes - sent)));
  return h.digest('hex');
}

/** A sink that hashes what it gets and counts it. */
function hashingSink() {
  const hash = createHash('sha256');
  let bytes = 0;
  const sink = new Writable({
    highWaterMark: MiB,
    write(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done();
    },
  });
  return { sink, result: () => ({ bytes, sha256: hash.digest('hex') }) };
}

/** Runs `fn` while sampling RSS every 20 ms; growth is the peak over the RSS just before it started. */
async function measured<T>(fn: () => Promise<T>) {
  (globalThis as { gc?: () => void }).gc?.();
  const before = rssMb();
  let peak = before;
  const timer = setInterval(() => (peak = Math.max(peak, rssMb())), 20);
  const started = performance.now();
  try {
    const value = await fn();
    const seconds = (performance.now() - started) / 1000;
    peak = Math.max(peak, rssMb());
    return {
      value,
      seconds,
      rssBeforeMb: round(before),
      rssPeakMb: round(peak),
      rssGrowthMb: round(peak - before),
    };
  } finally {
    clearInterval(timer);
  }
}

const handle = await openDb({ pgliteDir: 'memory://' });
const blobDir = process.env.BLOB_DIR ?? (await mkdtemp(join(tmpdir(), 'carecall-crypto-bench-')));
try {
  const enc = await createDataEncryption(
    handle.db,
    { kek: { version: 1, key: randomBytes(32) }, previousKeks: [], cacheSize: 1000 },
    () => {},
  );
  const store = await LocalDiskBlobStore.open(blobDir);

  const totalBytes = FILE_MB * MiB;
  const block = randomBytes(MiB);
  const expected = expectedSha256(totalBytes, block);

  // The encrypted file first, in a process that has not yet grown for anything else: RSS growth
  // measured after other phases would hide in memory they freed.
  const scope = 'conversation:bench';
  const encPut = await measured(async () =>
    store.put(
      'encrypted',
      source(totalBytes, block).stream.pipe(await enc.files.encryptStream(scope, 'file-1')),
    ),
  );
  const encGet = await measured(async () => {
    const { sink, result } = hashingSink();
    await pipeline(await store.get('encrypted'), enc.files.decryptStream(scope, 'file-1'), sink);
    return result();
  });
  await store.delete('encrypted');

  // Baseline: the same bytes through the same store, no encryption (disk + fsync + stream overhead).
  const plainPut = await measured(() => store.put('baseline', source(totalBytes, block).stream));
  const plainGet = await measured(async () => {
    const { sink, result } = hashingSink();
    await pipeline(await store.get('baseline'), sink);
    return result();
  });
  await store.delete('baseline');

  // Messages: sealed and opened under one conversation's cached data key (the steady state of a chat).
  const text = 'x'.repeat(MESSAGE_BYTES);
  await enc.messages.seal(scope, 'warm-up', text);
  const envelopes: Uint8Array[] = new Array(MESSAGES);
  let t = performance.now();
  for (let i = 0; i < MESSAGES; i++) envelopes[i] = await enc.messages.seal(scope, `m${i}`, text);
  const sealPerSecond = MESSAGES / ((performance.now() - t) / 1000);
  t = performance.now();
  for (let i = 0; i < MESSAGES; i++)
    if ((await enc.messages.openText(scope, `m${i}`, envelopes[i]!)) !== text)
      throw new Error(`message ${i} did not round-trip`);
  const openPerSecond = MESSAGES / ((performance.now() - t) / 1000);
  envelopes.length = 0;

  if (plainGet.value.sha256 !== expected) throw new Error('baseline read back different bytes');
  const identical = encGet.value.bytes === totalBytes && encGet.value.sha256 === expected;
  const mbps = (bytes: number, seconds: number) => round(bytes / MiB / seconds);
  const file = {
    sizeMb: FILE_MB,
    chunkBytes: DEFAULT_CHUNK_SIZE,
    storedBytes: encPut.value.size,
    expectedStoredBytes: encryptedSize(totalBytes),
    byteIdentical: identical,
    encryptPut: {
      mbPerSecond: mbps(totalBytes, encPut.seconds),
      seconds: round(encPut.seconds, 2),
      rssBeforeMb: encPut.rssBeforeMb,
      rssGrowthMb: encPut.rssGrowthMb,
      rssPeakMb: encPut.rssPeakMb,
    },
    getDecrypt: {
      mbPerSecond: mbps(totalBytes, encGet.seconds),
      seconds: round(encGet.seconds, 2),
      rssBeforeMb: encGet.rssBeforeMb,
      rssGrowthMb: encGet.rssGrowthMb,
      rssPeakMb: encGet.rssPeakMb,
    },
    baselinePut: { mbPerSecond: mbps(totalBytes, plainPut.seconds), rssGrowthMb: plainPut.rssGrowthMb },
    baselineGet: { mbPerSecond: mbps(totalBytes, plainGet.seconds), rssGrowthMb: plainGet.rssGrowthMb },
  };
  const worstMbps = Math.min(file.encryptPut.mbPerSecond, file.getDecrypt.mbPerSecond);
  const worstGrowth = Math.max(file.encryptPut.rssGrowthMb, file.getDecrypt.rssGrowthMb);
  const result = {
    benchmark: 'crypto',
    machine: { cores: cpus().length, node: process.version },
    settings: { fileMb: FILE_MB, messages: MESSAGES, messageBytes: MESSAGE_BYTES, blobDir },
    messages: { sealPerSecond: Math.round(sealPerSecond), openPerSecond: Math.round(openPerSecond) },
    file,
    target: {
      mbPerSecond: TARGET_MB_PER_S,
      rssGrowthMb: TARGET_RSS_GROWTH_MB,
      met: identical && worstMbps >= TARGET_MB_PER_S && worstGrowth <= TARGET_RSS_GROWTH_MB,
    },
  };
  console.log(JSON.stringify(result, null, 2));
  console.table({
    'messages (seal)': { 'ops/s': result.messages.sealPerSecond, 'MB/s': '', 'RSS growth MB': '' },
    'messages (open)': { 'ops/s': result.messages.openPerSecond, 'MB/s': '', 'RSS growth MB': '' },
    [`file ${FILE_MB} MB encrypt -> put`]: {
      'ops/s': '',
      'MB/s': file.encryptPut.mbPerSecond,
      'RSS growth MB': file.encryptPut.rssGrowthMb,
    },
    [`file ${FILE_MB} MB get -> decrypt (+sha256)`]: {
      'ops/s': '',
      'MB/s': file.getDecrypt.mbPerSecond,
      'RSS growth MB': file.getDecrypt.rssGrowthMb,
    },
    'baseline put (no encryption)': {
      'ops/s': '',
      'MB/s': file.baselinePut.mbPerSecond,
      'RSS growth MB': file.baselinePut.rssGrowthMb,
    },
    'baseline get (+sha256)': {
      'ops/s': '',
      'MB/s': file.baselineGet.mbPerSecond,
      'RSS growth MB': file.baselineGet.rssGrowthMb,
    },
  });
  console.log(
    `file ${FILE_MB} MB byte-identical: ${identical}; slowest direction ${worstMbps} MB/s (target >= ${TARGET_MB_PER_S}), largest RSS growth ${worstGrowth} MB (target <= ${TARGET_RSS_GROWTH_MB}): ${result.target.met ? 'met' : 'NOT met'}`,
  );
  if (!identical) process.exitCode = 1;
} finally {
  await handle.close();
  if (!process.env.BLOB_DIR) await rm(blobDir, { recursive: true, force: true });
}
