import { generateKeyPairSync } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import { describe, expect, it } from 'vitest';
import { JOIN_TOKEN_AUDIENCE, JOIN_TOKEN_ISSUER } from './protocol/limits.ts';
import { createJoinTokenVerifier } from './verify-join-token.ts';

const keys = generateKeyPairSync('ed25519');
const verify = createJoinTokenVerifier(keys.publicKey);
const grant = { room: 'room-abc-123', role: 'doctor', perms: ['publish', 'subscribe'] };
const now = () => Math.floor(Date.now() / 1000);

function mint(
  over: {
    claims?: JWTPayload;
    iss?: string;
    aud?: string | string[];
    exp?: number;
    sub?: string | null;
    nbf?: number;
    key?: typeof keys.privateKey;
    alg?: string;
  } = {},
) {
  const jwt = new SignJWT({ ...grant, ...over.claims })
    .setProtectedHeader({ alg: over.alg ?? 'EdDSA' })
    .setIssuer(over.iss ?? JOIN_TOKEN_ISSUER)
    .setAudience(over.aud ?? JOIN_TOKEN_AUDIENCE)
    .setExpirationTime(over.exp ?? now() + 60);
  if (over.sub !== null) jwt.setSubject(over.sub ?? 'user-1');
  if (over.nbf !== undefined) jwt.setNotBefore(over.nbf);
  return jwt.sign(over.key ?? keys.privateKey);
}

describe('join token verification (synchronous)', () => {
  it('accepts a token of our key and returns its claims', async () => {
    expect(verify(await mint())).toMatchObject({ sub: 'user-1', ...grant });
    expect(verify(await mint({ aud: ['other', JOIN_TOKEN_AUDIENCE] })).sub).toBe('user-1');
  });

  it.each([
    ['another key', () => mint({ key: generateKeyPairSync('ed25519').privateKey })],
    ['an expired token', () => mint({ exp: now() - 60 })],
    ['a token not valid yet', () => mint({ nbf: now() + 600 })],
    ['another audience', () => mint({ aud: 'carecall-api' })],
    ['another issuer', () => mint({ iss: 'someone-else' })],
    ['no subject', () => mint({ sub: null })],
    ['claims outside the schema', () => mint({ claims: { role: 'admin' } })],
  ])('refuses %s', async (_, make) => {
    const token = await make();
    expect(() => verify(token)).toThrow();
  });

  it('refuses tampering: a changed payload, a changed or re-encoded signature, alg none, garbage', async () => {
    const token = await mint();
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const raised = Buffer.from(
      JSON.stringify({
        ...JSON.parse(Buffer.from(payload, 'base64url').toString()),
        role: 'doctor',
        perms: ['admit', 'moderate'],
      }),
    ).toString('base64url');
    expect(() => verify(`${header}.${raised}.${signature}`)).toThrow();
    const flipped = Buffer.from(signature, 'base64url');
    flipped[0] = flipped[0]! ^ 1;
    expect(() => verify(`${header}.${payload}.${flipped.toString('base64url')}`)).toThrow();
    // Lenient base64url decoders ignore a trailing character; the token must be the canonical one.
    expect(() => verify(`${token}A`)).toThrow();
    const none = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url');
    expect(() => verify(`${none}.${payload}.`)).toThrow();
    expect(() => verify(`${none}.${payload}.${signature}`)).toThrow();
    for (const garbage of ['', 'a.b', 'a.b.c.d', 'not a token', `${header}.${payload}`])
      expect(() => verify(garbage)).toThrow();
  });
});
