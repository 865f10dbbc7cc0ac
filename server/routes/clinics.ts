import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { Identity } from '../identity/create-identity.ts';
import { PATIENT_INVITE_ROLES, STAFF_INVITE_ROLES } from '../identity/invitations.ts';
import { displayNameSchema, emailSchema, idSchema, parseBody, parseParams } from '../validation.ts';
import { authenticate, type ApiEnv } from './middleware.ts';

const idleTimeout = z.number().int().min(60, 'must be at least 60 seconds').max(86_400, 'must be at most 86400 seconds');
const createBody = z.object({ name: displayNameSchema, idleTimeoutSeconds: idleTimeout.optional(), adminEmail: emailSchema });
const patchBody = z
  .object({ name: displayNameSchema.optional(), idleTimeoutSeconds: idleTimeout.nullable().optional() })
  .refine((b) => b.name !== undefined || b.idleTimeoutSeconds !== undefined, { message: 'nothing to change' });
const inviteBody = z.object({ email: emailSchema, role: z.enum([...STAFF_INVITE_ROLES, ...PATIENT_INVITE_ROLES]) });
const careBody = z.object({ doctorId: idSchema, patientId: idSchema });
const clinicParam = z.object({ clinicId: idSchema });

/** Clinics (platform admin creates them), their settings, staff, patients, invitations, care. */
export function clinicRoutes(identity: Identity) {
  const { policy, clinics } = identity;
  const clinicOf = (c: Context) => ({ type: 'clinic' as const, clinicId: parseParams(c, clinicParam).clinicId });
  return new Hono<ApiEnv>()
    .use(authenticate(identity))
    .post('/', async (c) => {
      await policy.require(c.var.actor, 'clinic.create', { type: 'platform' });
      const body = await parseBody(c, createBody);
      const clinic = await clinics.create(body);
      const invitation = await identity.invitations.create({ clinicId: clinic.id, role: 'clinic_admin', email: body.adminEmail, createdBy: c.var.actor.userId });
      await identity.audit.record({ action: 'clinic.created', outcome: 'allowed', resourceType: 'clinic', resourceId: clinic.id, clinicId: clinic.id });
      return c.json({ clinic, adminInvitation: { id: invitation.id, link: invitation.link, expiresAt: invitation.expiresAt } }, 201);
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
      await identity.audit.record({ action: 'clinic.updated', outcome: 'allowed', resourceType: 'clinic', resourceId: clinic.id, clinicId: clinic.id });
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
      const inv = await identity.invitations.create({ clinicId: r.clinicId, role: body.role, email: body.email, createdBy: c.var.actor.userId });
      await identity.audit.record({ action: 'invitation.created', outcome: 'allowed', resourceType: 'invitation', resourceId: inv.id, clinicId: r.clinicId });
      return c.json({ id: inv.id, link: inv.link, expiresAt: inv.expiresAt, role: body.role }, 201);
    })
    .post('/:clinicId/care-relationships', async (c) => {
      const r = clinicOf(c);
      await policy.require(c.var.actor, 'clinic.care.assign', r);
      const body = await parseBody(c, careBody);
      await clinics.assignCare({ clinicId: r.clinicId, ...body, createdBy: c.var.actor.userId });
      await identity.audit.record({ action: 'care.assigned', outcome: 'allowed', resourceType: 'patient', resourceId: body.patientId, patientId: body.patientId, clinicId: r.clinicId });
      return c.json({ clinicId: r.clinicId, ...body }, 201);
    });
}
