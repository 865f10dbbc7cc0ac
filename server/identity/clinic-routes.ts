import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { Identity } from './create-identity.ts';
import { PATIENT_INVITE_ROLES, STAFF_INVITE_ROLES } from './invitations.ts';
import { INVITATION_STATUSES } from './invitation-list.ts';
import {
  displayNameSchema,
  emailSchema,
  idSchema,
  parseBody,
  parseParams,
  parseQuery,
} from '../api/validation.ts';
import { type ApiEnv } from '../api/middleware.ts';
import { authenticate } from './authenticate.ts';

const idleTimeout = z
  .number()
  .int()
  .min(60, 'must be at least 60 seconds')
  .max(86_400, 'must be at most 86400 seconds');
const createBody = z.object({
  name: displayNameSchema,
  idleTimeoutSeconds: idleTimeout.optional(),
  adminEmail: emailSchema,
});
const patchBody = z
  .object({ name: displayNameSchema.optional(), idleTimeoutSeconds: idleTimeout.nullable().optional() })
  .refine((b) => b.name !== undefined || b.idleTimeoutSeconds !== undefined, {
    message: 'nothing to change',
  });
const inviteBody = z.object({
  email: emailSchema,
  role: z.enum([...STAFF_INVITE_ROLES, ...PATIENT_INVITE_ROLES]),
});
const careBody = z.object({ doctorId: idSchema, patientId: idSchema });
const clinicParam = z.object({ clinicId: idSchema });
const invitationParam = z.object({ clinicId: idSchema, invitationId: idSchema });
const listQuery = z.object({
  status: z
    .enum(INVITATION_STATUSES, { message: `must be one of ${INVITATION_STATUSES.join(', ')}` })
    .optional(),
  before: idSchema.optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

/** Clinics (platform admin creates them), their settings, staff, patients, invitations, care. */
export function clinicRoutes(identity: Identity) {
  const admin = (c: Context<ApiEnv>) => identity.clinicAdministration.forActor(c.var.actor);
  const clinicIdOf = (c: Context) => parseParams(c, clinicParam).clinicId;
  return new Hono<ApiEnv>()
    .use(authenticate(identity))
    .post('/', async (c) => c.json(await admin(c).create(() => parseBody(c, createBody)), 201))
    .get('/:clinicId', async (c) => c.json(await admin(c).get(clinicIdOf(c)), 200))
    .patch('/:clinicId', async (c) =>
      c.json(await admin(c).update(clinicIdOf(c), () => parseBody(c, patchBody)), 200),
    )
    .get('/:clinicId/staff', async (c) => c.json({ staff: await admin(c).staff(clinicIdOf(c)) }, 200))
    .get('/:clinicId/patients', async (c) =>
      c.json({ patients: await admin(c).patients(clinicIdOf(c)) }, 200),
    )
    .post('/:clinicId/invitations', async (c) => {
      const clinicId = clinicIdOf(c);
      const body = await parseBody(c, inviteBody);
      return c.json(await admin(c).invite(clinicId, body), 201);
    })
    .get('/:clinicId/invitations', async (c) => {
      const clinicId = clinicIdOf(c);
      return c.json(await admin(c).invitations(clinicId, parseQuery(c, listQuery)), 200);
    })
    .delete('/:clinicId/invitations/:invitationId', async (c) => {
      const p = parseParams(c, invitationParam);
      await admin(c).revokeInvitation(p.clinicId, p.invitationId);
      return c.body(null, 204);
    })
    .post('/:clinicId/care-relationships', async (c) =>
      c.json(await admin(c).assignCare(clinicIdOf(c), () => parseBody(c, careBody)), 201),
    );
}
