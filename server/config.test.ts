import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';
import { clusterConfig, clusterEnv } from './config/cluster-config.ts';

const variablesIn = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => i.variable);
    throw err;
  }
  throw new Error('expected a ConfigError');
};

describe('loadConfig', () => {
  it('has working defaults: PGlite, local bus, demo on', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 3000,
      databaseUrl: undefined,
      redisUrl: undefined,
      demo: true,
      socketServer: 'auto',
    });
  });

  it('abuse limits: defaults, every setting read, nonsense refused naming the variable', () => {
    const d = loadConfig({});
    expect(d.auth).toMatchObject({
      loginRateLimitPerMinute: 20,
      loginCodesPerWindow: 5,
      invitationMailsPerHour: 100,
      hashQueue: { limit: 32, maxWaitMs: 3000 },
      signInConcurrency: 16,
      knownDeviceTtlSeconds: 90 * 86_400,
    });
    expect(d.joinToken.maxSockets).toBe(3);
    const c = loadConfig({
      LOGIN_CODES_PER_WINDOW: '7',
      INVITATION_MAILS_PER_HOUR: '9',
      PASSWORD_HASH_QUEUE: '4',
      PASSWORD_HASH_MAX_WAIT_MS: '500',
      KNOWN_DEVICE_DAYS: '30',
      JOIN_TOKEN_MAX_SOCKETS: '2',
    });
    expect(c.auth).toMatchObject({
      loginCodesPerWindow: 7,
      invitationMailsPerHour: 9,
      hashQueue: { limit: 4, maxWaitMs: 500 },
      knownDeviceTtlSeconds: 30 * 86_400,
    });
    expect(c.joinToken.maxSockets).toBe(2);
    expect(variablesIn(() => loadConfig({ JOIN_TOKEN_MAX_SOCKETS: '0' }))).toEqual([
      'JOIN_TOKEN_MAX_SOCKETS',
    ]);
    expect(variablesIn(() => loadConfig({ PASSWORD_HASH_QUEUE: 'lots' }))).toEqual(['PASSWORD_HASH_QUEUE']);
    expect(variablesIn(() => loadConfig({ PASSWORD_HASH_MAX_WAIT_MS: '1' }))).toEqual([
      'PASSWORD_HASH_MAX_WAIT_MS',
    ]);
  });

  it('reads every setting', () => {
    const c = loadConfig({
      PORT: '8080',
      RTC_ANNOUNCED_IP: '203.0.113.7',
      RTC_PORT: '40000',
      SFU_WORKERS: '2',
      RTC_SOCKETS_PER_WORKER: '3',
      SFU_ROOM_PEERS_PER_WORKER: '30',
      DATABASE_URL: 'postgres://u@db/x',
      REDIS_URL: 'redis://cache:6379',
      SOCKET_SERVER: 'ws',
    });
    expect(c).toMatchObject({
      port: 8080,
      rtc: {
        announcedIp: '203.0.113.7',
        port: 40000,
        workers: 2,
        socketsPerWorker: 3,
        roomPeersPerWorker: 30,
      },
      databaseUrl: 'postgres://u@db/x',
      redisUrl: 'redis://cache:6379',
      demo: false,
      socketServer: 'ws',
    });
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ RTC_SOCKETS_PER_WORKER: '0' }, 'RTC_SOCKETS_PER_WORKER'],
    [{ RTC_SOCKETS_PER_WORKER: '17' }, 'RTC_SOCKETS_PER_WORKER'],
    [{ SFU_ROOM_PEERS_PER_WORKER: '-1' }, 'SFU_ROOM_PEERS_PER_WORKER'],
    [{ SFU_ROOM_PEERS_PER_WORKER: 'many' }, 'SFU_ROOM_PEERS_PER_WORKER'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ REDIS_URL: 'http://x' }, 'REDIS_URL'],
    [{ SFU_WORKERS: '0' }, 'SFU_WORKERS'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ RTC_LISTEN_IP: 'not an ip!' }, 'RTC_LISTEN_IP'],
    [{ NODE_ENV: 'production' }, 'JOIN_TOKEN_PRIVATE_KEY'],
  ])('names the bad variable: %o', (env, variable) => {
    expect(variablesIn(() => loadConfig(env))).toContain(variable);
  });

  it('TRUSTED_PROXIES takes IPs and CIDR ranges, and names a bad entry', () => {
    expect(loadConfig({ TRUSTED_PROXIES: '127.0.0.1, 10.0.0.0/8,fd00::/8' }).trustedProxies).toEqual([
      '127.0.0.1',
      '10.0.0.0/8',
      'fd00::/8',
    ]);
    expect(loadConfig({}).trustedProxies).toEqual([]);
    expect(variablesIn(() => loadConfig({ TRUSTED_PROXIES: '10.0.0.0/8,proxy.local' }))).toEqual([
      'TRUSTED_PROXIES',
    ]);
  });

  it('database waits: 5 s to connect and 10 s per query by default, bounded, 0 = no query limit', () => {
    expect(loadConfig({}).database).toEqual({ connectTimeoutSeconds: 5, queryTimeoutMs: 10_000 });
    expect(loadConfig({ DB_CONNECT_TIMEOUT_SECONDS: '2', DB_QUERY_TIMEOUT_SECONDS: '0' }).database).toEqual({
      connectTimeoutSeconds: 2,
      queryTimeoutMs: 0,
    });
    expect(
      variablesIn(() =>
        loadConfig({ DB_CONNECT_TIMEOUT_SECONDS: '0', DB_QUERY_TIMEOUT_SECONDS: 'soon' }),
      ).sort(),
    ).toEqual(['DB_CONNECT_TIMEOUT_SECONDS', 'DB_QUERY_TIMEOUT_SECONDS']);
  });

  it('AUDIT_CHAIN_KEY takes 32+ bytes of base64 and names anything else', () => {
    const key = Buffer.alloc(32, 7);
    expect(loadConfig({ AUDIT_CHAIN_KEY: key.toString('base64') }).auth.auditChainKey).toEqual(key);
    expect(loadConfig({}).auth.auditChainKey).toBeUndefined();
    for (const bad of [Buffer.alloc(16).toString('base64'), 'not base64 at all!', ''])
      expect(variablesIn(() => loadConfig({ AUDIT_CHAIN_KEY: bad }))).toEqual(['AUDIT_CHAIN_KEY']);
  });

  it('CLUSTER_KEY: 32 bytes of base64, required in production with Redis, optional elsewhere', () => {
    const key = Buffer.alloc(32, 3);
    expect(loadConfig({ CLUSTER_KEY: key.toString('base64') }).clusterKey).toEqual(key);
    expect(loadConfig({ REDIS_URL: 'redis://cache:6379' }).clusterKey).toBeUndefined();
    expect(variablesIn(() => loadConfig({ CLUSTER_KEY: 'short' }))).toEqual(['CLUSTER_KEY']);
    const redis = clusterEnv.parse({ REDIS_URL: 'redis://cache:6379' });
    expect(variablesIn(() => clusterConfig(redis, 'production'))).toEqual(['CLUSTER_KEY']);
    expect(clusterConfig(clusterEnv.parse({}), 'production').clusterKey).toBeUndefined();
  });

  it('reports every bad variable at once', () => {
    expect(variablesIn(() => loadConfig({ PORT: '-1', SOCKET_SERVER: 'x' })).sort()).toEqual([
      'PORT',
      'SOCKET_SERVER',
    ]);
  });
});

describe('server process with bad config', () => {
  it('exits non-zero naming the variable, before starting anything', () => {
    const res = spawnSync(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      env: { ...process.env, PORT: 'not-a-port', REDIS_URL: 'ftp://x' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(res.status).toBe(1);
    expect(res.stderr).toContain('configuration error: PORT');
    expect(res.stderr).toContain('configuration error: REDIS_URL');
    expect(res.stdout).not.toContain('listening');
  });
});
