import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import sodium from 'libsodium-wrappers-sumo';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb, type DbHandle } from '../../db/client.ts';
import { createTestDatabase } from '../../test/helpers/pg.ts';
import { DataKeyStore } from './data-key-store.ts';
import { KekRing } from './kek-ring.ts';
import { MessageSealer } from './message-sealer.ts';

const SCRIPT = new URL('../../scripts/rewrap-data-keys.ts', import.meta.url).pathname;

async function run(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, ...args], {
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, stdout, stderr };
}

describe('npm run keys:rewrap', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let handle: DbHandle;
  const v1 = randomBytes(32);
  const v2 = randomBytes(32);
  beforeAll(async () => {
    await sodium.ready;
    database = await createTestDatabase();
    handle = await openDb({ databaseUrl: database.url, maxConnections: 2 });
  });
  afterAll(async () => {
    await handle?.close();
    await database?.drop();
  });

  it('re-wraps every key under the new version; afterwards the old KEK is not needed', async () => {
    const sealer = new MessageSealer(new DataKeyStore(handle.db, new KekRing({ version: 1, key: v1 })));
    const sealed = await Promise.all(
      Array.from({ length: 7 }, (_, i) => sealer.seal(`conversation:${i}`, 'm1', `text ${i}`)),
    );
    const env = {
      DATABASE_URL: database.url,
      DATA_KEK: v2.toString('base64'),
      DATA_KEK_VERSION: '2',
      DATA_KEK_PREVIOUS: `1:${v1.toString('base64')}`,
    };

    const status = await run(['--status'], env);
    expect(status.code).toBe(4);
    expect(JSON.parse(status.stdout)).toEqual({
      currentKekVersion: 2,
      keysByKekVersion: [{ kekVersion: 1, count: 7 }],
    });

    const r = await run(['--batch-size', '3'], env);
    expect(r.stderr).toContain('re-wrapped');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      currentKekVersion: 2,
      before: [{ kekVersion: 1, count: 7 }],
      after: [{ kekVersion: 2, count: 7 }],
      rewrapped: 7,
      remaining: 0,
      failed: [],
    });

    const onlyV2 = new MessageSealer(new DataKeyStore(handle.db, new KekRing({ version: 2, key: v2 })));
    expect(await Promise.all(sealed.map((e, i) => onlyV2.openText(`conversation:${i}`, 'm1', e)))).toEqual(
      sealed.map((_, i) => `text ${i}`),
    );
    expect((await run(['--status'], { ...env, DATA_KEK_PREVIOUS: '' })).code).toBe(0);
  });

  it('without the old KEK it reports the keys it could not unwrap and exits 4', async () => {
    await new DataKeyStore(handle.db, new KekRing({ version: 5, key: randomBytes(32) })).keyForScope(
      'record:orphan',
    );
    const r = await run([], {
      DATABASE_URL: database.url,
      DATA_KEK: v2.toString('base64'),
      DATA_KEK_VERSION: '2',
    });
    expect(r.code).toBe(4);
    expect(JSON.parse(r.stdout)).toMatchObject({
      rewrapped: 0,
      remaining: 1,
      failed: [{ kekVersion: 5, code: 'kek_unavailable' }],
    });
  });

  it('refuses to run without DATA_KEK, and rejects bad arguments', async () => {
    const none = await run([], { DATABASE_URL: database.url });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('DATA_KEK is not set');
    expect(
      (await run(['--batch-size', '0'], { DATABASE_URL: database.url, DATA_KEK: v2.toString('base64') }))
        .code,
    ).toBe(2);
    expect(
      (await run(['--bogus'], { DATABASE_URL: database.url, DATA_KEK: v2.toString('base64') })).code,
    ).toBe(2);
  });
});
