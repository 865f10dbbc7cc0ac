import { Hono, type Context } from 'hono';
import { ProblemError } from '../api/errors.ts';
import type { ApiEnv } from '../api/middleware.ts';
import { PROBLEM } from '../api/problem-codes.ts';
import { parseBody, parseParams } from '../api/validation.ts';
import { authenticate } from '../identity/authenticate.ts';
import type { Identity } from '../identity/create-identity.ts';
import { currentContext } from '../request-context.ts';
import type { Embed } from './create-embed.ts';
import { clinicParam, createKeyBody, joinBody, keyParam, sessionBody, settingsBody } from './schemas.ts';

/** /api/clinics/:clinicId/api-keys and /widget-settings: the clinic admin's side. */
export function embedAdminRoutes(identity: Identity, embed: Embed) {
  const admin = (c: Context<ApiEnv>) => embed.administration.forActor(c.var.actor);
  const clinicIdOf = (c: Context) => parseParams(c, clinicParam).clinicId;
  return new Hono<ApiEnv>()
    .use(authenticate(identity))
    .post('/:clinicId/api-keys', async (c) => {
      const clinicId = clinicIdOf(c);
      const body = await parseBody(c, createKeyBody);
      c.header('cache-control', 'no-store');
      return c.json(await admin(c).createKey(clinicId, body), 201);
    })
    .get('/:clinicId/api-keys', async (c) => c.json({ keys: await admin(c).listKeys(clinicIdOf(c)) }, 200))
    .delete('/:clinicId/api-keys/:keyId', async (c) => {
      const p = parseParams(c, keyParam);
      await admin(c).revokeKey(p.clinicId, p.keyId);
      return c.body(null, 204);
    })
    .get('/:clinicId/widget-settings', async (c) => c.json(await admin(c).settings(clinicIdOf(c)), 200))
    .put('/:clinicId/widget-settings', async (c) => {
      const clinicId = clinicIdOf(c);
      const body = await parseBody(c, settingsBody);
      return c.json(await admin(c).updateSettings(clinicId, body), 200);
    });
}

/**
 * /api/widget: sessions minted server to server with a clinic API key (no CORS headers at all, so a
 * browser page can neither call nor read it: a key belongs in the clinic's backend), the iframe's
 * exchange (same origin only), and the button's look (CORS for the clinic's allowed origins).
 */
export function widgetApiRoutes(embed: Embed) {
  return new Hono<ApiEnv>()
    .post('/sessions', async (c) => {
      const key = await embed.apiKeys.authenticate(c.req.header('authorization'), 'widget:sessions');
      // The audit log names the key as the actor (it is not a user).
      const ctx = currentContext();
      if (ctx) ctx.actorId = `api_key:${key.keyId}`;
      embed.rateLimiter.take(key.keyId);
      const body = await parseBody(c, sessionBody);
      c.header('cache-control', 'no-store');
      return c.json(await embed.sessions.create(key, body), 201);
    })
    .post('/join', async (c) => {
      const { token } = await parseBody(c, joinBody);
      const claims = await embed.tokens.verify(token);
      const origin = c.req.header('origin');
      if (origin && !isOwnOrigin(c, origin, embed.publicUrl()))
        throw new ProblemError(
          403,
          PROBLEM.originNotAllowed,
          'the widget session is exchanged by the CareCall frame only',
        );
      c.header('cache-control', 'no-store');
      return c.json(await embed.sessions.join(claims), 201);
    })
    .get('/clinics/:clinicId/appearance', async (c) => {
      const { clinicId } = parseParams(c, clinicParam);
      const settings = await embed.settings.get(clinicId);
      const origin = c.req.header('origin');
      c.header('vary', 'Origin');
      if (origin && !isOwnOrigin(c, origin, embed.publicUrl())) {
        if (!settings.allowedOrigins.includes(origin))
          throw new ProblemError(403, PROBLEM.originNotAllowed, 'this site may not embed this clinic');
        c.header('access-control-allow-origin', origin);
      }
      return c.json({ accentColor: settings.accentColor, logoText: settings.logoText }, 200);
    });
}

/** Whether `origin` is this server as a browser reaches it: PUBLIC_URL's origin or the request's own. */
export function isOwnOrigin(c: Context, origin: string, publicUrl: string): boolean {
  if (origin === new URL(c.req.url).origin) return true;
  try {
    return !!publicUrl && origin === new URL(publicUrl).origin;
  } catch {
    return false;
  }
}
