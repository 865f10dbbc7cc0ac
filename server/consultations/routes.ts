import { Hono } from 'hono';
import type { ConsultationService } from './consultation-service.ts';
import type { Identity } from '../identity/create-identity.ts';
import { parseBody, parseParams } from '../api/validation.ts';
import type { ApiEnv } from '../api/middleware.ts';
import { authenticate } from '../identity/authenticate.ts';
import { appointmentParam, guestBody, guestParam } from './schemas.ts';

/** /api/appointments/:id/...: join tokens for the people of the appointment, guest invitations. */
export function consultationRoutes(identity: Identity, consultations: ConsultationService) {
  return new Hono<ApiEnv>()
    .use(authenticate(identity))
    .post('/:appointmentId/join-token', async (c) => {
      const { appointmentId } = parseParams(c, appointmentParam);
      c.header('cache-control', 'no-store');
      return c.json(await consultations.joinToken(c.var.actor, appointmentId), 201);
    })
    .post('/:appointmentId/guests', async (c) => {
      const { appointmentId } = parseParams(c, appointmentParam);
      const body = await parseBody(c, guestBody);
      c.header('cache-control', 'no-store');
      return c.json(await consultations.inviteGuest(c.var.actor, appointmentId, body), 201);
    })
    .delete('/:appointmentId/guests/:guestId', async (c) => {
      const { appointmentId, guestId } = parseParams(c, guestParam);
      await consultations.revokeGuest(c.var.actor, appointmentId, guestId);
      return c.body(null, 204);
    });
}

/** /guest/:key: a guest's link opens the room page with a fresh join token (no account needed). */
export function guestLinkRoutes(consultations: ConsultationService) {
  return new Hono().get('/guest/:key{[A-Za-z0-9_-]{20,64}}', async (c) => {
    const ticket = await consultations.redeemGuest(c.req.param('key'));
    c.header('referrer-policy', 'no-referrer');
    return c.redirect(ticket.path, 302);
  });
}
