import { Hono, type Context } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { z } from 'zod';
import type { Identity } from './create-identity.ts';
import { createMiddleware } from 'hono/factory';
import { DEVICE_COOKIE, DEVICE_COOKIE_PATH } from './known-devices.ts';
import { emailSchema, idSchema, parseBody, parseParams } from '../api/validation.ts';
import { clientMeta, type ApiEnv } from '../api/middleware.ts';
import { authenticate } from './authenticate.ts';

const loginBody = z.object({
  email: emailSchema,
  password: z.string().min(1, 'required').max(128, 'must be at most 128 characters'),
  method: z.enum(['email', 'sms', 'totp']).optional(),
});
const mfaBody = z.object({ challengeId: idSchema, code: z.string().regex(/^[0-9]{6}$/, 'must be 6 digits') });
const refreshBody = z.object({ refreshToken: z.string().min(20, 'malformed').max(200, 'malformed') });

/**
 * Admission for unauthenticated requests that prove a secret (see SignInAdmission): a slot in the
 * lane of the browser's signed device cookie, or the other lane, held until the answer is ready.
 */
export function admitSignIn(identity: Identity) {
  return createMiddleware<ApiEnv>(async (c, next) => {
    const release = identity.admission.enter(
      identity.devices.deviceIdFromCookie(getCookie(c, DEVICE_COOKIE)),
    );
    try {
      await next();
    } finally {
      release();
    }
  });
}

/** Sign-in (password, then second factor), token refresh, sign-out and the session list. */
export function authRoutes(identity: Identity) {
  const auth = authenticate(identity);
  /** The request's meta plus the browser's known-device id (from its signed cookie). */
  const signInMeta = (c: Context) => ({
    ...clientMeta(c),
    deviceId: identity.devices.deviceIdFromCookie(getCookie(c, DEVICE_COOKIE)),
  });
  const admit = admitSignIn(identity);
  return new Hono<ApiEnv>()
    .post('/login', admit, async (c) => {
      const body = await parseBody(c, loginBody);
      return c.json(await identity.login.start(body, signInMeta(c)), 200);
    })
    .post('/mfa', admit, async (c) => {
      const body = await parseBody(c, mfaBody);
      const { deviceId, ...pair } = await identity.login.verify(body, signInMeta(c));
      // Secure: browsers keep it on https and on http://localhost, and drop it on plain http elsewhere (no lane then).
      setCookie(c, DEVICE_COOKIE, identity.devices.cookieValue(deviceId), {
        path: DEVICE_COOKIE_PATH,
        httpOnly: true,
        secure: true,
        sameSite: 'Strict',
        maxAge: identity.config.knownDeviceTtlSeconds,
      });
      return c.json(pair, 200);
    })
    .post('/refresh', async (c) => {
      const body = await parseBody(c, refreshBody);
      return c.json(await identity.sessions.refresh(body.refreshToken), 200);
    })
    .post('/logout', auth, async (c) => {
      await identity.sessions.revoke(c.var.actor.sessionId, 'logout');
      return c.body(null, 204);
    })
    .get('/sessions', auth, async (c) => {
      return c.json({ sessions: await identity.ownAccounts.forActor(c.var.actor).sessions() }, 200);
    })
    .delete('/sessions/:sessionId', auth, async (c) => {
      const { sessionId } = parseParams(c, z.object({ sessionId: idSchema }));
      await identity.ownAccounts.forActor(c.var.actor).revokeSession(sessionId);
      return c.body(null, 204);
    });
}
