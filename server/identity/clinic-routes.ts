import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { Identity } from './create-identity.ts';
import { PATIENT_INVITE_ROLES, STAFF_INVITE_ROLES } from './invitations.ts';
import { INVITATION_STATUSES } from './invitation-list.ts';
import { invitationListScope } from '../policy/decide.ts';
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
  const { policy, clinics } = identity;
  const clinicOf = (c: Context) => ({
    type: 'clinic' as const,
    clinicId: parseParams(c, clinicParam).clinicId,
  });
  return new Hono<ApiEnv>()
    .use(authenticate(identity))
    .post('/', async (c) => {
      await policy.require(c.var.actor, 'clinic.create', { type: 'platform' });
      const body = await parseBody(c, createBody);
      // Before the clinic exists: a refused invitation e-mail must not leave a clinic without its admin's link.
      await identity.invitations.checkMailBudget(c.var.actor.userId);
      const clinic = await clinics.create(body);
      const invitation = await identity.invitations.create({
        clinicId: clinic.id,
        role: 'clinic_admin',
        email: body.adminEmail,
        createdBy: c.var.actor.userId,
      });
      await identity.audit.record({
        action: 'clinic.created',
        outcome: 'allowed',
        resourceType: 'clinic',
        resourceId: clinic.id,
        clinicId: clinic.id,
      });
      return c.json(
        {
          clinic,
          adminInvitation: { id: invitation.id, link: invitation.link, expiresAt: invitation.expiresAt },
        },
        201,
      );
    })
    .get('/:clinicId', async (c) => {
      const r = clinicOf(c);
      await policy.require(c.var.actor, 'clinic.read', r);
      return c.json(await clinics.get(r.clinicId), 200);
    })
    .patch('/:clinicId', async (c) => {
      const r = clinicOf(c);
      await policy.require(c.var.actor, 'clinic.update', r);
      const body = await parseBody(c, patchBody);
      const clinic = await clinics.update(r.clinicId, body);
      await identity.audit.record({
        action: 'clinic.updated',
        outcome: 'allowed',
        resourceType: 'clinic',
        resourceId: clinic.id,
        clinicId: clinic.id,
      });
      return c.json(clinic, 200);
    })
    .get('/:clinicId/staff', async (c) => {
      const r = clinicOf(c);
      await policy.require(c.var.actor, 'clinic.staff.list', r);
      return c.json({ staff: await clinics.staff(r.clinicId) }, 200);
    })
    .get('/:clinicId/patients', async (c) => {
      const r = clinicOf(c);
      const actor = c.var.actor;
      await policy.require(actor, 'clinic.patients.list', r);
      // Doctors see the patients they treat; clinic admins and operators the whole clinic.
      const patients = await clinics.patients(r.clinicId, actor.role === 'doctor' ? actor.userId : undefined);
      return c.json({ patients }, 200);
    })
    .post('/:clinicId/invitations', async (c) => {
      const r = clinicOf(c);
      const body = await parseBody(c, inviteBody);
      const staff = (STAFF_INVITE_ROLES as readonly string[]).includes(body.role);
      await policy.require(c.var.actor, staff ? 'clinic.staff.invite' : 'clinic.patient.invite', r);
      const inv = await identity.invitations.create({
        clinicId: r.clinicId,
        role: body.role,
        email: body.email,
        createdBy: c.var.actor.userId,
      });
      await identity.audit.record({
        action: 'invitation.created',
        outcome: 'allowed',
        resourceType: 'invitation',
        resourceId: inv.id,
        clinicId: r.clinicId,
      });
      return c.json({ id: inv.id, link: inv.link, expiresAt: inv.expiresAt, role: body.role }, 201);
    })
    .get('/:clinicId/invitations', async (c) => {
      const r = clinicOf(c);
      const q = parseQuery(c, listQuery);
      // The policy says how wide the actor may look (all, or only what they sent) and then checks it.
      const scope = {
        type: 'invitations' as const,
        clinicId: r.clinicId,
        ...invitationListScope(c.var.actor),
      };
      await policy.require(c.var.actor, 'clinic.invitations.list', scope);
      const list = await identity.invitations.list({
        clinicId: r.clinicId,
        sentBy: scope.sentBy,
        status: q.status,
        before: q.before,
        limit: q.limit,
      });
      const next = list.length === q.limit ? list[list.length - 1]!.id : null;
      return c.json({ invitations: list, next }, 200);
    })
    .delete('/:clinicId/invitations/:invitationId', async (c) => {
      const p = parseParams(c, invitationParam);
      const inv = await identity.invitations.find(p.clinicId, p.invitationId);
      await policy.require(c.var.actor, 'invitation.revoke', {
        type: 'invitation',
        invitationId: inv.id,
        clinicId: inv.clinicId,
        sentBy: inv.createdBy,
      });
      const { revoked } = await identity.invitations.revoke(p.clinicId, p.invitationId);
      // Only a change is an event; repeating the DELETE is answered the same but records nothing.
      if (revoked)
        await identity.audit.record({
          action: 'invitation.revoked',
          outcome: 'allowed',
          resourceType: 'invitation',
          resourceId: inv.id,
          clinicId: inv.clinicId,
        });
      return c.body(null, 204);
    })
    .post('/:clinicId/care-relationships', async (c) => {
      const r = clinicOf(c);
      await policy.require(c.var.actor, 'clinic.care.assign', r);
      const body = await parseBody(c, careBody);
      await clinics.assignCare({ clinicId: r.clinicId, ...body, createdBy: c.var.actor.userId });
      await identity.audit.record({
        action: 'care.assigned',
        outcome: 'allowed',
        resourceType: 'patient',
        resourceId: body.patientId,
        patientId: body.patientId,
        clinicId: r.clinicId,
      });
      return c.json({ clinicId: r.clinicId, ...body }, 201);
    });
}
