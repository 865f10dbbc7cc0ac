import { describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { ConfigError, loadConfig } from '../config.ts';
import { iceServersFor, turnCredentials } from './turn-credentials.ts';
import { createJoinTokenVerifier } from '../../signaling/verify-join-token.ts';
import { JoinTokenIssuer, loadJoinTokenKeys } from './join-tokens.ts';
import { iceServerRoutes } from './ice-server-routes.ts';
import { ProblemError, problemResponse } from '../api/errors.ts';
import { Hono } from 'hono';

const turn = {
  urls: ['turn:turn.example.test:3478?transport=udp'],
  secret: 'north-wind-secret-0123',
  ttlSeconds: 3600,
};

describe('coturn REST credentials', () => {
  it('username is <expiry>:<peer>, password is base64 HMAC-SHA1 (reference value from openssl)', () => {
    const c = turnCredentials(turn, 'alice', 1_700_000_000_000);
    expect(c).toEqual({
      urls: turn.urls,
      username: '1700003600:alice',
      credential: 'UTxENDIdw4TUKgCXsJCuEC2RO9k=',
    });
  });

  it('a colon in the peer id cannot forge the expiry field', () => {
    expect(turnCredentials(turn, '9999999999:mallory', 0).username).toBe('3600:9999999999_mallory');
  });

  it('no TURN configured: no ICE servers', () => {
    expect(iceServersFor(undefined, 'alice')).toEqual([]);
  });

  it.each([
    [{ TURN_URLS: 'turn:127.0.0.1:3478' }, 'TURN_SECRET'],
    [{ TURN_URLS: 'http://x', TURN_SECRET: 'long-enough-secret!' }, 'TURN_URLS'],
    [{ TURN_URLS: 'turn:127.0.0.1:3478', TURN_SECRET: 'short' }, 'TURN_SECRET'],
    [
      {
        TURN_URLS: 'turn:127.0.0.1:3478',
        TURN_SECRET: 'long-enough-secret!',
        TURN_CREDENTIAL_TTL_SECONDS: '5',
      },
      'TURN_CREDENTIAL_TTL_SECONDS',
    ],
  ])('bad TURN config names the variable: %o', (env, variable) => {
    try {
      loadConfig(env);
      throw new Error('expected a ConfigError');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).issues.map((i) => i.variable)).toContain(variable);
    }
  });
});

describe('GET /api/ice-servers', () => {
  const keys = loadJoinTokenKeys(undefined);
  const issuer = new JoinTokenIssuer(keys, 60);
  const app = new Hono()
    .route('/api/ice-servers', iceServerRoutes(createJoinTokenVerifier(keys.publicKey), turn))
    .onError((err, c) => problemResponse(c, err as ProblemError));
  const get = (auth?: string) =>
    app.request('/api/ice-servers', auth ? { headers: { authorization: auth } } : {});

  it('refuses a missing or bad join token with 401 problem+json', async () => {
    const missing = await get();
    expect(missing.status).toBe(401);
    expect(missing.headers.get('content-type')).toBe('application/problem+json');
    expect(await missing.json()).toMatchObject({ code: 'token_missing' });
    const foreign = new JoinTokenIssuer(
      loadJoinTokenKeys(
        generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      ),
      60,
    );
    for (const bad of [
      'Bearer nope',
      `Bearer ${await foreign.mint({ sub: 'x', room: 'abcdefgh12', role: 'guest', perms: [] })}`,
    ]) {
      const res = await get(bad);
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ code: 'token_invalid' });
    }
  });

  it('hands a valid token holder TURN credentials bound to their identity', async () => {
    const token = await issuer.mint({
      sub: 'pat-7',
      room: 'abcdefgh12',
      role: 'patient',
      perms: ['publish'],
    });
    const res = await get(`Bearer ${token}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const { iceServers } = (await res.json()) as { iceServers: { urls: string[]; username: string }[] };
    expect(iceServers).toHaveLength(1);
    expect(iceServers[0]!.urls).toEqual(turn.urls);
    expect(iceServers[0]!.username).toMatch(/^\d+:pat-7$/);
    expect(Number(iceServers[0]!.username.split(':')[0]) - Date.now() / 1000).toBeGreaterThan(3500);
  });
});
