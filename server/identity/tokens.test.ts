import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { generateKeyPairSync } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { clinics, sessions } from '../../db/schema/index.ts';
import {
  createClinic,
  createUser,
  signIn,
  startIdentityHarness,
  type IdentityHarness,
} from '../../test/helpers/identity.ts';
import { ACCESS_TOKEN_AUDIENCE, ACCESS_TOKEN_ISSUER } from './access-tokens.ts';

describe('access and refresh tokens', () => {
  let h: IdentityHarness;
  let user: { id: string; email: string };
  beforeAll(async () => {
    h = await startIdentityHarness();
    const clinicId = await createClinic(h.db);
    user = await createUser(h.identity, h.db, { role: 'doctor', clinicId });
  });
  afterAll(() => h.close());

  const me = (token: string) => h.call('GET', '/api/me', { token });

  it('a fresh access token works', async () => {
    const t = await signIn(h.call, h.db, user.email);
    const r = await me(t.accessToken);
    expect(r.status).toBe(200);
    expect(r.body.id).toBe(user.id);
  });

  it('an expired access token is refused with token_expired', async () => {
    const t = await signIn(h.call, h.db, user.email);
    const expired = await new SignJWT({ sid: t.sessionId, role: 'doctor' })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt' })
      .setSubject(user.id)
      .setIssuer(ACCESS_TOKEN_ISSUER)
      .setAudience(ACCESS_TOKEN_AUDIENCE)
      .setIssuedAt(Math.floor(Date.now() / 1000) - 120)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(h.identity.keys.privateKey);
    const r = await me(expired);
    expect(r.status).toBe(401);
    expect(r.contentType).toContain('application/problem+json');
    expect(r.body.code).toBe('token_expired');
  });

  it('a tampered token (payload changed, signature kept) is refused', async () => {
    const t = await signIn(h.call, h.db, user.email);
    const [head, payload, sig] = t.accessToken.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    claims.role = 'admin';
    const forged = `${head}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${sig}`;
    const r = await me(forged);
    expect(r.status).toBe(401);
    expect(r.body.code).toBe('token_invalid');
  });

  it('a token signed by another key is refused', async () => {
    const t = await signIn(h.call, h.db, user.email);
    const other = generateKeyPairSync('ed25519').privateKey;
    const forged = await new SignJWT({ sid: t.sessionId, role: 'admin' })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt' })
      .setSubject(user.id)
      .setIssuer(ACCESS_TOKEN_ISSUER)
      .setAudience(ACCESS_TOKEN_AUDIENCE)
      .setExpirationTime('5m')
      .sign(other);
    expect((await me(forged)).body.code).toBe('token_invalid');
  });

  it('a token for another audience (e.g. a signaling join token audience) is refused', async () => {
    const t = await signIn(h.call, h.db, user.email);
    const wrongAud = await new SignJWT({ sid: t.sessionId, role: 'doctor' })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt' })
      .setSubject(user.id)
      .setIssuer(ACCESS_TOKEN_ISSUER)
      .setAudience('carecall-signaling')
      .setExpirationTime('5m')
      .sign(h.identity.keys.privateKey);
    const r = await me(wrongAud);
    expect(r.status).toBe(401);
    expect(r.body.code).toBe('token_invalid');
  });

  it('missing or malformed Authorization is 401 problem+json', async () => {
    expect((await h.call('GET', '/api/me')).body.code).toBe('unauthenticated');
    expect((await h.call('GET', '/api/me', { headers: { authorization: 'Basic abc' } })).body.code).toBe(
      'token_invalid',
    );
  });

  it('refresh rotates: the new pair works, the old access token still works until expiry', async () => {
    const t = await signIn(h.call, h.db, user.email);
    const r = await h.call('POST', '/api/auth/refresh', { body: { refreshToken: t.refreshToken } });
    expect(r.status).toBe(200);
    expect(r.body.refreshToken).not.toBe(t.refreshToken);
    expect(r.body.sessionId).toBe(t.sessionId);
    expect((await me(r.body.accessToken)).status).toBe(200);
    const again = await h.call('POST', '/api/auth/refresh', { body: { refreshToken: r.body.refreshToken } });
    expect(again.status).toBe(200);
  });

  it('refresh token reuse revokes the whole session: every token of it stops working', async () => {
    const t = await signIn(h.call, h.db, user.email);
    const first = await h.call('POST', '/api/auth/refresh', { body: { refreshToken: t.refreshToken } });
    expect(first.status).toBe(200);
    // The stolen (already used) token is presented again.
    const reuse = await h.call('POST', '/api/auth/refresh', { body: { refreshToken: t.refreshToken } });
    expect(reuse.status).toBe(401);
    expect(reuse.body.code).toBe('refresh_token_reused');
    // The legitimate holder's newer tokens die with the session.
    expect(
      (await h.call('POST', '/api/auth/refresh', { body: { refreshToken: first.body.refreshToken } })).status,
    ).toBe(401);
    const r = await me(first.body.accessToken);
    expect(r.status).toBe(401);
    expect(r.body.code).toBe('session_revoked');
    const [s] = await h.db.select().from(sessions).where(eq(sessions.id, t.sessionId));
    expect(s!.revokeReason).toBe('refresh_reuse');
    const audit = await h.identity.audit.query({ actorId: user.id, limit: 50 });
    expect(audit.some((e) => e.action === 'auth.login' && e.sessionId === t.sessionId)).toBe(true);
  });

  it('two concurrent refreshes with one token: one wins, the other is treated as reuse', async () => {
    const t = await signIn(h.call, h.db, user.email);
    const [a, b] = await Promise.all([
      h.call('POST', '/api/auth/refresh', { body: { refreshToken: t.refreshToken } }),
      h.call('POST', '/api/auth/refresh', { body: { refreshToken: t.refreshToken } }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 401]);
  });

  it('an unknown refresh token is 401; a malformed one is 400 with a field error', async () => {
    expect(
      (await h.call('POST', '/api/auth/refresh', { body: { refreshToken: 'x'.repeat(43) } })).body.code,
    ).toBe('invalid_refresh_token');
    const bad = await h.call('POST', '/api/auth/refresh', { body: { refreshToken: 1 } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual([expect.objectContaining({ field: 'refreshToken' })]);
  });

  it('idle timeout (per clinic) logs the session off', async () => {
    const clinicId = await createClinic(h.db, 'Strict clinic');
    await h.db.update(clinics).set({ idleTimeoutSeconds: 120 }).where(eq(clinics.id, clinicId));
    const u = await createUser(h.identity, h.db, { role: 'operator', clinicId });
    const t = await signIn(h.call, h.db, u.email);
    expect((await me(t.accessToken)).status).toBe(200);
    expect(await h.identity.sessions.idleTimeoutSeconds(u.id)).toBe(120);
    // Pretend the user walked away for three minutes.
    await h.db
      .update(sessions)
      .set({ lastSeenAt: new Date(Date.now() - 180_000) })
      .where(eq(sessions.id, t.sessionId));
    const r = await me(t.accessToken);
    expect(r.status).toBe(401);
    expect(r.body.code).toBe('session_idle_timeout');
    expect(
      (await h.call('POST', '/api/auth/refresh', { body: { refreshToken: t.refreshToken } })).status,
    ).toBe(401);
  });
});
