import { randomBytes } from 'node:crypto';
import sodium from 'libsodium-wrappers-sumo';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../config.ts';
import { kekRingFromConfig } from './kek-ring.ts';

const b64 = (n = 32) => randomBytes(n).toString('base64');
const variablesIn = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => i.variable);
    throw err;
  }
  return [];
};
const production = { NODE_ENV: 'production', JOIN_TOKEN_PRIVATE_KEY: 'pem', AUTH_TOKEN_PRIVATE_KEY: 'pem' };

describe('DATA_KEK configuration', () => {
  beforeAll(() => sodium.ready);

  it('parses the current KEK, its version and previous versions', () => {
    const current = b64();
    const old = randomBytes(32);
    const older = randomBytes(32);
    const c = loadConfig({
      DATA_KEK: current,
      DATA_KEK_VERSION: '3',
      DATA_KEK_PREVIOUS: `2:${old.toString('base64')}, 1:${older.toString('base64url')}`,
    }).dataEncryption;
    expect(c.kek).toEqual({ version: 3, key: Buffer.from(current, 'base64') });
    expect(c.previousKeks).toEqual([
      { version: 2, key: old },
      { version: 1, key: older },
    ]);
    expect(c.cacheSize).toBe(10_000);
    expect(loadConfig({}).dataEncryption).toEqual({ kek: undefined, previousKeks: [], cacheSize: 10_000 });
    expect(loadConfig({ DATA_KEK: b64() }).dataEncryption.kek!.version).toBe(1);
    expect(loadConfig({}).blobStoreDir).toBe('.data/blobs');
  });

  it.each([
    [{ DATA_KEK: b64(16) }, 'DATA_KEK'],
    [{ DATA_KEK: b64(33) }, 'DATA_KEK'],
    [{ DATA_KEK: 'not base64 at all!' }, 'DATA_KEK'],
    [{ DATA_KEK: b64(), DATA_KEK_VERSION: '0' }, 'DATA_KEK_VERSION'],
    [{ DATA_KEK: b64(), DATA_KEK_PREVIOUS: b64() }, 'DATA_KEK_PREVIOUS'],
    [{ DATA_KEK: b64(), DATA_KEK_PREVIOUS: `x:${b64()}` }, 'DATA_KEK_PREVIOUS'],
    [{ DATA_KEK: b64(), DATA_KEK_PREVIOUS: `0:${b64()}` }, 'DATA_KEK_PREVIOUS'],
    [{ DATA_KEK: b64(), DATA_KEK_PREVIOUS: `2:${b64(31)}` }, 'DATA_KEK_PREVIOUS'],
    [{ DATA_KEK: b64(), DATA_KEK_VERSION: '2', DATA_KEK_PREVIOUS: `2:${b64()}` }, 'DATA_KEK_PREVIOUS'],
    [{ DATA_KEK: b64(), DATA_KEK_PREVIOUS: `5:${b64()},5:${b64()}` }, 'DATA_KEK_PREVIOUS'],
    [{ DATA_KEY_CACHE_SIZE: '0' }, 'DATA_KEY_CACHE_SIZE'],
    [production, 'DATA_KEK'],
  ])('names the bad variable: %o', (env, variable) => {
    expect(variablesIn(() => loadConfig(env))).toEqual([variable]);
  });

  it('production starts with a DATA_KEK', () => {
    expect(loadConfig({ ...production, DATA_KEK: b64() }).dataEncryption.kek).toBeDefined();
  });

  it('without DATA_KEK the ring has a per-process key and says so; with one it is silent', async () => {
    const warnings: string[] = [];
    const a = await kekRingFromConfig(loadConfig({}).dataEncryption, (m) => warnings.push(m));
    const b = await kekRingFromConfig(loadConfig({}).dataEncryption, (m) => warnings.push(m));
    expect(a.ephemeral).toBe(true);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/DATA_KEK not set.*per-process/);
    // Two processes' keys differ: what one wrapped, the other cannot unwrap.
    const { wrappedKey, kekVersion } = a.wrap(
      new Uint8Array(32),
      '00000000-0000-4000-8000-000000000001',
      'scope:x',
    );
    expect(() => b.unwrap(wrappedKey, kekVersion, '00000000-0000-4000-8000-000000000001', 'scope:x')).toThrow(
      expect.objectContaining({ code: 'data_key_invalid' }),
    );
    // Previous keys configured without a current one keep their versions; the process key takes a free one.
    const withOld = await kekRingFromConfig(
      loadConfig({ DATA_KEK_PREVIOUS: `1:${b64()}` }).dataEncryption,
      (m) => warnings.push(m),
    );
    expect(withOld.current.version).toBe(2);
    expect(withOld.versions.sort()).toEqual([1, 2]);
    const configured = await kekRingFromConfig(
      loadConfig({ DATA_KEK: b64(), DATA_KEK_VERSION: '4' }).dataEncryption,
      (m) => warnings.push(m),
    );
    expect(configured).toMatchObject({ ephemeral: false, current: { version: 4 } });
    expect(warnings).toHaveLength(3);
  });
});
