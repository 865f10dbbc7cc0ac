import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { Identity } from '../identity/create-identity.ts';
import type { Scheduling } from './create-scheduling.ts';
import { idSchema, parseBody, parseParams, parseQuery } from '../api/validation.ts';
import { type ApiEnv } from '../api/middleware.ts';
import { authenticate } from '../identity/authenticate.ts';
import { consultTypeBody, consultTypePatchBody, consultTypesQuery, settingsBody } from './schemas.ts';

const clinicParam = z.object({ clinicId: idSchema });
const consultTypeParam = z.object({ clinicId: idSchema, consultTypeId: idSchema });

/** /api/scheduling/clinics/:clinicId: approval and reminder settings, consult types and prices. */
export function clinicSchedulingRoutes(identity: Identity, scheduling: Scheduling) {
  const { policy } = identity;
  const clinicOf = (c: Context) => ({
    type: 'clinic' as const,
    clinicId: parseParams(c, clinicParam).clinicId,
  });
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
      const { includeInactive } = parseQuery(c, consultTypesQuery);
      // Retired types matter only to whoever may bring them back.
      if (includeInactive) await policy.require(c.var.actor, 'clinic.consult_types.manage', r);
      return c.json(
        { consultTypes: await scheduling.clinics.listConsultTypes(r.clinicId, { includeInactive }) },
        200,
      );
    })
    .post('/:clinicId/consult-types', async (c) => {
      const r = clinicOf(c);
      await policy.require(c.var.actor, 'clinic.consult_types.manage', r);
      const body = await parseBody(c, consultTypeBody);
      return c.json(await scheduling.clinics.createConsultType(r.clinicId, body), 201);
    })
    .patch('/:clinicId/consult-types/:consultTypeId', async (c) => {
      const r = clinicOf(c);
      const { consultTypeId } = parseParams(c, consultTypeParam);
      await policy.require(c.var.actor, 'clinic.consult_types.manage', r);
      const { kind: _fixed, ...patch } = await parseBody(c, consultTypePatchBody);
      return c.json(await scheduling.clinics.updateConsultType(r.clinicId, consultTypeId, patch), 200);
    });
}
