import { Hono, type Context } from 'hono';
import type { ApiEnv } from '../api/middleware.ts';
import { parseBody, parseParams, parseQuery } from '../api/validation.ts';
import { authenticate } from '../identity/authenticate.ts';
import type { Identity } from '../identity/create-identity.ts';
import { WEBHOOK_SUBSCRIPTIONS } from './catalogue.ts';
import {
  clinicParam,
  deliveriesQuery,
  deliveryParam,
  endpointBody,
  endpointParam,
  endpointPatchBody,
} from './schemas.ts';
import type { Webhooks } from './webhooks.ts';

/**
 * /api/webhooks/clinics/:clinicId/endpoints: a clinic's webhook endpoints, their secrets (shown
 * once, on creation and rotation), delivery log and resends. Clinic admins only (the policy decides).
 */
export function webhookRoutes(identity: Identity, webhooks: Webhooks) {
  const of = (c: Context<ApiEnv>) => webhooks.forActor(c.var.actor);
  return new Hono<ApiEnv>()
    .use(authenticate(identity))
    .get('/events', (c) => c.json({ events: WEBHOOK_SUBSCRIPTIONS }, 200))
    .get('/clinics/:clinicId/endpoints', async (c) => {
      const { clinicId } = parseParams(c, clinicParam);
      return c.json({ endpoints: await of(c).endpoints.list(clinicId) }, 200);
    })
    .post('/clinics/:clinicId/endpoints', async (c) => {
      const { clinicId } = parseParams(c, clinicParam);
      const admin = of(c).endpoints;
      // Decided before the body is read: a stranger learns nothing from validation errors.
      await admin.require(clinicId);
      const body = await parseBody(c, endpointBody);
      c.header('cache-control', 'no-store');
      return c.json(await admin.create(clinicId, body), 201);
    })
    .get('/clinics/:clinicId/endpoints/:endpointId', async (c) => {
      const { clinicId, endpointId } = parseParams(c, endpointParam);
      return c.json(await of(c).endpoints.get(clinicId, endpointId), 200);
    })
    .patch('/clinics/:clinicId/endpoints/:endpointId', async (c) => {
      const { clinicId, endpointId } = parseParams(c, endpointParam);
      const admin = of(c).endpoints;
      await admin.require(clinicId);
      const body = await parseBody(c, endpointPatchBody);
      return c.json(await admin.update(clinicId, endpointId, body), 200);
    })
    .delete('/clinics/:clinicId/endpoints/:endpointId', async (c) => {
      const { clinicId, endpointId } = parseParams(c, endpointParam);
      await of(c).endpoints.remove(clinicId, endpointId);
      return c.body(null, 204);
    })
    .post('/clinics/:clinicId/endpoints/:endpointId/secret', async (c) => {
      const { clinicId, endpointId } = parseParams(c, endpointParam);
      c.header('cache-control', 'no-store');
      return c.json(await of(c).endpoints.rotateSecret(clinicId, endpointId), 200);
    })
    .get('/clinics/:clinicId/endpoints/:endpointId/deliveries', async (c) => {
      const { clinicId, endpointId } = parseParams(c, endpointParam);
      const log = of(c).deliveries;
      await of(c).endpoints.require(clinicId);
      const query = parseQuery(c, deliveriesQuery);
      return c.json({ deliveries: await log.list(clinicId, endpointId, query) }, 200);
    })
    .get('/clinics/:clinicId/endpoints/:endpointId/deliveries/:deliveryId', async (c) => {
      const { clinicId, endpointId, deliveryId } = parseParams(c, deliveryParam);
      return c.json(await of(c).deliveries.get(clinicId, endpointId, deliveryId), 200);
    })
    .post('/clinics/:clinicId/endpoints/:endpointId/deliveries/:deliveryId/resend', async (c) => {
      const { clinicId, endpointId, deliveryId } = parseParams(c, deliveryParam);
      return c.json(await of(c).deliveries.resend(clinicId, endpointId, deliveryId), 202);
    });
}
