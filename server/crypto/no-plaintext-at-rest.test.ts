import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { sql } from 'drizzle-orm';
import sodium from 'libsodium-wrappers-sumo';
import { afterAll, describe, expect, it } from 'vitest';
import { openDb, type DbHandle } from '../../db/client.ts';
import { TEST_PG_BIN_DIR } from '../../test/helpers/env.ts';
import { createTestDatabase } from '../../test/helpers/pg.ts';
import { LocalDiskBlobStore } from '../storage/local-disk-blob-store.ts';
import { createDataEncryption } from './index.ts';

const run = promisify(execFile);

/** Every encoding in which a secret could show up in a dump or a data file. */
const forms = (secret: Buffer) => [
  secret,
  Buffer.from(secret.toString('hex')),
  Buffer.from(secret.toString('base64')),
];

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/**
 * Writes messages and a file the way the chat and files features will (envelopes in a table of
 * the database, file bytes in the blob store) and returns what must never be found at rest.
 */
async function writeSamples(handle: DbHandle, blobDir: string, kek: Buffer) {
  const enc = await createDataEncryption(
    handle.db,
    { kek: { version: 1, key: kek }, previousKeks: [], cacheSize: 100 },
    () => {},
  );
  await handle.db.execute(
    sql`create table sample_messages (id text primary key, conversation text not null, body bytea not null)`,
  );
  const messages = Array.from(
    { length: 20 },
    (_, i) => `Patient reports chest pain since Tuesday, sample ${i} ${randomBytes(4).toString('hex')}`,
  );
  for (const [i, text] of messages.entries()) {
    const body = await enc.messages.seal('conversation:c1', `m${i}`, text);
    await handle.db.execute(sql`insert into sample_messages values (${`m${i}`}, 'conversation:c1', ${body})`);
  }
  const { key: dek } = await enc.keys.keyForScope('conversation:c1');
  const store = await LocalDiskBlobStore.open(blobDir);
  const marker = Buffer.from(`SCAN-RESULT-${randomBytes(8).toString('hex')}`);
  const fileBytes = Buffer.concat(Array.from({ length: 5000 }, () => marker));
  await store.put(
    'file1',
    Readable.from([fileBytes]).pipe(await enc.files.encryptStream('conversation:c1', 'file1')),
  );
  // Still readable, so the scan below looks at real ciphertext.
  const back: Buffer[] = [];
  for await (const p of (await store.get('file1')).pipe(enc.files.decryptStream('conversation:c1', 'file1')))
    back.push(p as Buffer);
  expect(Buffer.concat(back).equals(fileBytes)).toBe(true);
  return {
    secrets: [
      ...messages.flatMap((m) => forms(Buffer.from(m))),
      ...forms(Buffer.from(dek)),
      ...forms(kek),
      marker,
    ],
  };
}

function expectNoneIn(haystack: Buffer, secrets: Buffer[], where: string) {
  for (const s of secrets)
    expect(haystack.includes(s), `${where} contains ${s.subarray(0, 24).toString()}…`).toBe(false);
}

describe('the database and the blob store hold no plaintext', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('PostgreSQL: pg_dump of the whole database finds no message text, data key, KEK or file bytes', async () => {
    await sodium.ready;
    const database = await createTestDatabase();
    cleanups.push(database.drop);
    const handle = await openDb({ databaseUrl: database.url, maxConnections: 2 });
    cleanups.push(() => handle.close());
    const blobDir = await mkdtemp(join(tmpdir(), 'carecall-atrest-'));
    cleanups.push(() => rm(blobDir, { recursive: true, force: true }));
    const { secrets } = await writeSamples(handle, blobDir, randomBytes(32));
    const { stdout } = await run(join(TEST_PG_BIN_DIR, 'pg_dump'), ['--data-only', database.url], {
      maxBuffer: 256 * 1024 * 1024,
      encoding: 'buffer',
    });
    expect(stdout.includes(Buffer.from('COPY public.sample_messages'))).toBe(true);
    expect(stdout.includes(Buffer.from('COPY public.data_keys'))).toBe(true);
    expectNoneIn(stdout, secrets, 'pg_dump');
    for (const f of await filesUnder(blobDir)) expectNoneIn(await readFile(f), secrets, f);
  });

  it('PGlite: the raw data directory (tables, WAL) finds none of them either', async () => {
    await sodium.ready;
    const root = await mkdtemp(join(tmpdir(), 'carecall-atrest-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const handle = await openDb({ pgliteDir: join(root, 'pglite') });
    const { secrets } = await writeSamples(handle, join(root, 'blobs'), randomBytes(32));
    await handle.db.execute(sql`checkpoint`);
    await handle.close();
    const files = await filesUnder(root);
    expect(files.length).toBeGreaterThan(100);
    for (const f of files) expectNoneIn(await readFile(f), secrets, f);
  });
});
