import { Hono } from 'hono';
import { z } from 'zod';
import { ProblemError } from '../api/errors.ts';
import type { Identity } from '../identity/create-identity.ts';
import { sha256Hex } from '../identity/secrets.ts';
import type { Scheduling } from './create-scheduling.ts';
import { doctorCalendarExport } from './doctor-calendar.ts';
import { doctorResource } from './appointment-facts.ts';
import { idSchema, parseParams } from '../api/validation.ts';
import { authenticate, type ApiEnv } from '../api/middleware.ts';

const doctorParam = z.object({ doctorId: idSchema });
export const FEED_PATH = '/api/calendar-feeds';

/** The subscription URLs for a secret; webcal:// makes Apple and Outlook offer to subscribe. */
function feedUrls(appUrl: string, secret: string) {
  const url = `${appUrl}${FEED_PATH}/${secret}.ics`;
  return { url, ...(/^https?:\/\//.test(url) ? { webcalUrl: url.replace(/^https?:/, 'webcal:') } : {}) };
}

/** /api/doctors/:doctorId/calendar-feed: the doctor issues (or rotates), inspects and revokes their feed URL. */
export function calendarFeedRoutes(identity: Identity, scheduling: Scheduling, appUrl: () => string) {
  const { policy } = identity;
  const feeds = scheduling.calendarFeeds;
  const doctorOf = (c: Parameters<typeof parseParams>[0]) => doctorResource(policy.db, parseParams(c, doctorParam).doctorId);
  return new Hono<ApiEnv>()
    .use(authenticate(identity))
    .post('/:doctorId/calendar-feed', async (c) => {
      const doctor = await doctorOf(c);
      await policy.require(c.var.actor, 'doctor.calendar_feed.manage', doctor, { reason: 'issue' });
      const { secret, issuedAt } = await feeds.issue(doctor.doctorId);
      // The only time the secret exists outside the caller's calendar app: keep it out of caches.
      c.header('cache-control', 'no-store');
      return c.json({ ...feedUrls(appUrl(), secret), issuedAt: issuedAt.toISOString() }, 201);
    })
    .get('/:doctorId/calendar-feed', async (c) => {
      const doctor = await doctorOf(c);
      await policy.require(c.var.actor, 'doctor.calendar_feed.manage', doctor, { reason: 'status' });
      return c.json(await feeds.status(doctor.doctorId), 200);
    })
    .delete('/:doctorId/calendar-feed', async (c) => {
      const doctor = await doctorOf(c);
      await policy.require(c.var.actor, 'doctor.calendar_feed.manage', doctor, { reason: 'revoke' });
      await feeds.revoke(doctor.doctorId);
      return c.body(null, 204);
    });
}

/**
 * /api/calendar-feeds/<secret>.ics: no Authorization header (calendar apps cannot send one); the
 * secret in the path is the credential. Malformed, unknown and revoked secrets get the same 404 as
 * any unknown path, so the endpoint tells a guesser nothing. The request log records the route
 * pattern only, and the audit entry names the doctor, never the secret.
 */
export function publicCalendarFeedRoutes(identity: Identity, scheduling: Scheduling, appUrl: () => string) {
  return new Hono<ApiEnv>().get('/:file', async (c) => {
    const secret = /^(.*)\.ics$/.exec(c.req.param('file'))?.[1];
    const doctorId = secret === undefined ? undefined : await scheduling.calendarFeeds.resolve(secret);
    if (!doctorId) throw new ProblemError(404, 'not_found', 'no such resource');
    await identity.audit.record({ action: 'doctor.calendar_feed.read', outcome: 'allowed', resourceType: 'doctor', resourceId: doctorId, reason: 'secret_url' });
    const body = await doctorCalendarExport(identity.policy.db, doctorId, scheduling.now(), appUrl());
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
    if (c.req.header('if-none-match')?.split(/\s*,\s*/).includes(etag)) return c.body(null, 304, headers);
    return c.body(body, 200, { ...headers, 'content-type': 'text/calendar; charset=utf-8', 'content-disposition': 'inline; filename="carecall.ics"' });
  });
}
