import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { Identity } from '../../identity/create-identity.ts';
import type { Scheduling } from '../../scheduling/create-scheduling.ts';
import { idSchema, parseBody, parseParams } from '../../validation.ts';
import { authenticate, type ApiEnv } from '../middleware.ts';
import { consultTypeBody, settingsBody } from './schemas.ts';

const clinicParam = z.object({ clinicId: idSchema });

/** /api/scheduling/clinics/:clinicId: approval and reminder settings, consult types and prices. */
export function clinicSchedulingRoutes(identity: Identity, scheduling: Scheduling) {
  const { policy } = identity;
  const clinicOf = (c: Context) => ({ type: 'clinic' as const, clinicId: parseParams(c, clinicParam).clinicId });
  return new Hono<ApiEnv>()
    .use(authenticate(identity))
    .get('/:clinicId/settings', async (c) => {
      const r = clinicOf(c);
      await policy.require(c.var.actor, 'clinic.consult_types.list', r);
      return c.json(await scheduling.clinics.settings(r.clinicId), 200);
    })
    .patch('/:clinicId/settings', async (c) => {
      const r = clinicOf(c);
      await policy.require(c.var.actor, 'clinic.scheduling.configure', r);
      const body = await parseBody(c, settingsBody);
      return c.json(await scheduling.clinics.updateSettings(r.clinicId, body), 200);
    })
    .get('/:clinicId/consult-types', async (c) => {
      const r = clinicOf(c);
      await policy.require(c.var.actor, 'clinic.consult_types.list', r);
      return c.json({ consultTypes: await scheduling.clinics.listConsultTypes(r.clinicId) }, 200);
    })
    .post('/:clinicId/consult-types', async (c) => {
      const r = clinicOf(c);
      await policy.require(c.var.actor, 'clinic.consult_types.manage', r);
      const body = await parseBody(c, consultTypeBody);
      return c.json(await scheduling.clinics.createConsultType(r.clinicId, body), 201);
    });
}
