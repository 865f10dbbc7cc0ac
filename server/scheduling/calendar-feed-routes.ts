import { Hono } from 'hono';
import { z } from 'zod';
import { ProblemError } from '../api/errors.ts';
import type { Identity } from '../identity/create-identity.ts';
import { sha256Hex } from '../identity/secrets.ts';
import type { Scheduling } from './create-scheduling.ts';
import { idSchema, parseParams } from '../api/validation.ts';
import { type ApiEnv } from '../api/middleware.ts';
import { authenticate } from '../identity/authenticate.ts';
import { PROBLEM } from '../api/problem-codes.ts';

const doctorParam = z.object({ doctorId: idSchema });
export const FEED_PATH = '/api/calendar-feeds';

/** The subscription URLs for a secret; webcal:// makes Apple and Outlook offer to subscribe. */
function feedUrls(appUrl: string, secret: string) {
  const url = `${appUrl}${FEED_PATH}/${secret}.ics`;
  return { url, ...(/^https?:\/\//.test(url) ? { webcalUrl: url.replace(/^https?:/, 'webcal:') } : {}) };
}

/** /api/doctors/:doctorId/calendar-feed: the doctor issues (or rotates), inspects and revokes their feed URL. */
export function calendarFeedRoutes(identity: Identity, scheduling: Scheduling, appUrl: () => string) {
  const calendars = scheduling.doctorCalendars;
  return new Hono<ApiEnv>()
    .use(authenticate(identity))
    .post('/:doctorId/calendar-feed', async (c) => {
      const { doctorId } = parseParams(c, doctorParam);
      const { secret, issuedAt } = await calendars.issueFeed(c.var.actor, doctorId);
      // The only time the secret exists outside the caller's calendar app: keep it out of caches.
      c.header('cache-control', 'no-store');
      return c.json({ ...feedUrls(appUrl(), secret), issuedAt: issuedAt.toISOString() }, 201);
    })
    .get('/:doctorId/calendar-feed', async (c) => {
      const { doctorId } = parseParams(c, doctorParam);
      return c.json(await calendars.feedStatus(c.var.actor, doctorId), 200);
    })
    .delete('/:doctorId/calendar-feed', async (c) => {
      const { doctorId } = parseParams(c, doctorParam);
      await calendars.revokeFeed(c.var.actor, doctorId);
      return c.body(null, 204);
    });
}

/**
 * /api/calendar-feeds/<secret>.ics: no Authorization header (calendar apps cannot send one); the
 * secret in the path is the credential. Malformed, unknown and revoked secrets get the same 404 as
 * any unknown path, so the endpoint tells a guesser nothing. The request log records the route
 * pattern only, and the audit entry names the doctor, never the secret.
 */
export function publicCalendarFeedRoutes(scheduling: Scheduling, appUrl: () => string) {
  return new Hono<ApiEnv>().get('/:file', async (c) => {
    const secret = /^(.*)\.ics$/.exec(c.req.param('file'))?.[1];
    const body =
      secret === undefined ? undefined : await scheduling.doctorCalendars.exportBySecret(secret, appUrl());
    if (body === undefined) throw new ProblemError(404, PROBLEM.notFound, 'no such resource');
    // DTSTAMP is "now" on every fetch; leave it out so the tag changes only when an event does.
    const etag = `W/"${sha256Hex(body.replace(/^DTSTAMP:.*\r\n/gm, '')).slice(0, 32)}"`;
    const headers = {
      etag,
      // private: the URL is a credential and the content is the doctor's; no shared cache keeps it.
      // A few minutes: calendar apps poll far less often, and a revoked URL dies soon after.
      'cache-control': 'private, max-age=300',
      'referrer-policy': 'no-referrer',
      'x-robots-tag': 'noindex, nofollow',
      'x-content-type-options': 'nosniff',
    };
    if (
      c.req
        .header('if-none-match')
        ?.split(/\s*,\s*/)
        .includes(etag)
    )
      return c.body(null, 304, headers);
    return c.body(body, 200, {
      ...headers,
      'content-type': 'text/calendar; charset=utf-8',
      'content-disposition': 'inline; filename="carecall.ics"',
    });
  });
}
