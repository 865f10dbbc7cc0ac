import { Hono } from 'hono';
import { z } from 'zod';
import type { Identity } from '../identity/create-identity.ts';
import type { Scheduling } from './create-scheduling.ts';
import { publicFields } from './booking-service.ts';
import { idSchema, parseBody, parseParams, parseQuery } from '../api/validation.ts';
import { type ApiEnv } from '../api/middleware.ts';
import { authenticate } from '../identity/authenticate.ts';
import { bookBody, cancelBody, rescheduleBody, transitionBody } from './schemas.ts';

const appointmentParam = z.object({ appointmentId: idSchema });
const listQuery = z.object({ patientId: idSchema });

/** /api/appointments: book, read, move, cancel, and walk the state machine. Policy decides inside the service. */
export function appointmentRoutes(identity: Identity, scheduling: Scheduling) {
  const { booking } = scheduling;
  return new Hono<ApiEnv>()
    .use(authenticate(identity))
    .post('/', async (c) => {
      const body = await parseBody(c, bookBody);
      return c.json(publicFields(await booking.book(c.var.actor, body)), 201);
    })
    .get('/', async (c) => {
      const { patientId } = parseQuery(c, listQuery);
      return c.json({ appointments: await booking.listForPatient(c.var.actor, patientId) }, 200);
    })
    .get('/:appointmentId', async (c) => {
      const { appointmentId } = parseParams(c, appointmentParam);
      return c.json(await booking.view(c.var.actor, appointmentId), 200);
    })
    .post('/:appointmentId/reschedule', async (c) => {
      const { appointmentId } = parseParams(c, appointmentParam);
      const body = await parseBody(c, rescheduleBody);
      return c.json(publicFields(await booking.reschedule(c.var.actor, appointmentId, body)), 200);
    })
    .post('/:appointmentId/cancel', async (c) => {
      const { appointmentId } = parseParams(c, appointmentParam);
      const body = await parseBody(c, cancelBody);
      return c.json(
        publicFields(await booking.transition(c.var.actor, appointmentId, 'cancelled', body.reason)),
        200,
      );
    })
    .post('/:appointmentId/transitions', async (c) => {
      const { appointmentId } = parseParams(c, appointmentParam);
      const body = await parseBody(c, transitionBody);
      return c.json(
        publicFields(await booking.transition(c.var.actor, appointmentId, body.to, body.reason ?? null)),
        200,
      );
    });
}
