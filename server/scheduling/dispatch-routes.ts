import { Hono } from 'hono';
import { z } from 'zod';
import type { Identity } from '../identity/create-identity.ts';
import type { Scheduling } from './create-scheduling.ts';
import { idSchema, parseBody, parseParams } from '../api/validation.ts';
import { authenticate, type ApiEnv } from '../api/middleware.ts';
import { declineBody, dispatchBody } from './schemas.ts';

const requestParam = z.object({ requestId: idSchema });

/** /api/dispatch: urgent consults offered to doctors in turn; first to accept wins, a decline passes it on. */
export function dispatchRoutes(identity: Identity, scheduling: Scheduling) {
  const { dispatch } = scheduling;
  return new Hono<ApiEnv>()
    .use(authenticate(identity))
    .post('/', async (c) => {
      const body = await parseBody(c, dispatchBody);
      return c.json(await dispatch.create(c.var.actor, body), 201);
    })
    .get('/offers', async (c) => {
      const actor = c.var.actor;
      await identity.policy.require(actor, 'doctor.dispatch_offers.list', { type: 'doctor', doctorId: actor.userId, clinicIds: actor.clinicIds });
      return c.json({ offers: await dispatch.openOffersFor(c.var.actor.userId) }, 200);
    })
    .get('/:requestId', async (c) => {
      const { requestId } = parseParams(c, requestParam);
      return c.json(await dispatch.statusFor(c.var.actor, requestId), 200);
    })
    .post('/:requestId/accept', async (c) => {
      const { requestId } = parseParams(c, requestParam);
      return c.json(await dispatch.accept(c.var.actor, requestId), 200);
    })
    .post('/:requestId/decline', async (c) => {
      const { requestId } = parseParams(c, requestParam);
      // The reason is optional, and so is the body: an empty POST declines without one.
      const body = (await c.req.text()).trim() ? await parseBody(c, declineBody) : {};
      return c.json(await dispatch.decline(c.var.actor, requestId, body.reason), 200);
    });
}
