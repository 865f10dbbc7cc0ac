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
  const admin = (c: Context<ApiEnv>) => scheduling.clinicAdministration.forActor(c.var.actor);
  const clinicIdOf = (c: Context) => parseParams(c, clinicParam).clinicId;
  return new Hono<ApiEnv>()
    .use(authenticate(identity))
    .get('/:clinicId/settings', async (c) => c.json(await admin(c).settings(clinicIdOf(c)), 200))
    .patch('/:clinicId/settings', async (c) =>
      c.json(await admin(c).updateSettings(clinicIdOf(c), () => parseBody(c, settingsBody)), 200),
    )
    .get('/:clinicId/consult-types', async (c) => {
      const query = () => parseQuery(c, consultTypesQuery);
      return c.json({ consultTypes: await admin(c).consultTypes(clinicIdOf(c), query) }, 200);
    })
    .post('/:clinicId/consult-types', async (c) =>
      c.json(await admin(c).createConsultType(clinicIdOf(c), () => parseBody(c, consultTypeBody)), 201),
    )
    .patch('/:clinicId/consult-types/:consultTypeId', async (c) => {
      const clinicId = clinicIdOf(c);
      const { consultTypeId } = parseParams(c, consultTypeParam);
      // The schema refuses a kind (fixed once created); what remains is the patch.
      const patch = async () => {
        const { kind: _fixed, ...rest } = await parseBody(c, consultTypePatchBody);
        return rest;
      };
      return c.json(await admin(c).updateConsultType(clinicId, consultTypeId, patch), 200);
    });
}
