import { Hono } from 'hono';
import { z } from 'zod';
import type { Identity } from './create-identity.ts';
import { canonicalTimeZone, isValidTimeZone } from '../scheduling/zoned-time.ts';
import { displayNameSchema, idSchema, localDate, parseBody, passwordSchema } from '../api/validation.ts';
import { clientMeta, type ApiEnv } from '../api/middleware.ts';
import { authenticate } from './authenticate.ts';

const isoDate = localDate('must be a date (YYYY-MM-DD)');
const passwordBody = z.object({
  currentPassword: z.string().min(1, 'required').max(128),
  newPassword: passwordSchema,
});
const mfaBody = z.object({ method: z.enum(['email', 'sms']) });
const codeBody = z.object({ code: z.string().regex(/^[0-9]{6}$/, 'must be 6 digits') });
const dependentBody = z.object({ displayName: displayNameSchema, dateOfBirth: isoDate, clinicId: idSchema });
const timeZone = z
  .string()
  .max(64, 'too long')
  .refine(isValidTimeZone, { message: 'must be an IANA time zone such as America/New_York' })
  .transform(canonicalTimeZone);
/** The only profile field a user sets themself so far; null clears it. */
const profileBody = z.strictObject({ timeZone: timeZone.nullable() });

/** The signed-in user's own account: profile, password, second factor, dependents. */
export function meRoutes(identity: Identity) {
  const { policy } = identity;
  const self = (actor: { userId: string }) => ({ type: 'user' as const, userId: actor.userId });
  return new Hono<ApiEnv>()
    .use(authenticate(identity))
    .get('/', async (c) => {
      const actor = c.var.actor;
      await policy.require(actor, 'user.self.manage', self(actor));
      const me = await identity.account.me(actor.userId);
      await identity.audit.record({
        action: 'user.self.read',
        outcome: 'allowed',
        resourceType: 'user',
        resourceId: actor.userId,
        patientId: me.role === 'patient' ? me.id : null,
      });
      return c.json({ ...me, clinicIds: actor.clinicIds }, 200);
    })
    .patch('/', async (c) => {
      const actor = c.var.actor;
      await policy.require(actor, 'user.time_zone.set', self(actor));
      const body = await parseBody(c, profileBody);
      await identity.account.setTimeZone(actor.userId, body.timeZone);
      await identity.audit.record({
        action: 'user.profile.update',
        outcome: 'allowed',
        resourceType: 'user',
        resourceId: actor.userId,
        patientId: actor.role === 'patient' ? actor.userId : null,
      });
      const me = await identity.account.me(actor.userId);
      return c.json({ ...me, clinicIds: actor.clinicIds }, 200);
    })
    .post('/password', async (c) => {
      const actor = c.var.actor;
      await policy.require(actor, 'user.self.manage', self(actor));
      const body = await parseBody(c, passwordBody);
      await identity.account.changePassword(
        actor.userId,
        actor.sessionId,
        body.currentPassword,
        body.newPassword,
        clientMeta(c).ip,
      );
      await identity.audit.record({
        action: 'user.password.change',
        outcome: 'allowed',
        resourceType: 'user',
        resourceId: actor.userId,
      });
      return c.body(null, 204);
    })
    .put('/mfa', async (c) => {
      const actor = c.var.actor;
      await policy.require(actor, 'user.self.manage', self(actor));
      const body = await parseBody(c, mfaBody);
      await identity.account.setMfaMethod(actor.userId, body.method);
      return c.json({ method: body.method }, 200);
    })
    .post('/totp/setup', async (c) => {
      const actor = c.var.actor;
      await policy.require(actor, 'user.self.manage', self(actor));
      return c.json(await identity.account.beginTotp(actor.userId), 200);
    })
    .post('/totp/confirm', async (c) => {
      const actor = c.var.actor;
      await policy.require(actor, 'user.self.manage', self(actor));
      const body = await parseBody(c, codeBody);
      await identity.account.confirmTotp(actor.userId, body.code);
      await identity.audit.record({
        action: 'user.totp.enable',
        outcome: 'allowed',
        resourceType: 'user',
        resourceId: actor.userId,
      });
      return c.json({ method: 'totp' as const }, 200);
    })
    .delete('/totp', async (c) => {
      const actor = c.var.actor;
      await policy.require(actor, 'user.self.manage', self(actor));
      await identity.account.disableTotp(actor.userId);
      await identity.audit.record({
        action: 'user.totp.disable',
        outcome: 'allowed',
        resourceType: 'user',
        resourceId: actor.userId,
      });
      return c.body(null, 204);
    })
    .get('/dependents', async (c) => {
      const actor = c.var.actor;
      await policy.require(actor, 'dependent.list', self(actor));
      return c.json({ dependents: await identity.dependents.list(actor.userId) }, 200);
    })
    .post('/dependents', async (c) => {
      const actor = c.var.actor;
      await policy.require(actor, 'dependent.create', self(actor));
      const body = await parseBody(c, dependentBody);
      const dep = await identity.dependents.create(actor, body);
      await identity.audit.record({
        action: 'dependent.created',
        outcome: 'allowed',
        resourceType: 'patient',
        resourceId: dep.id,
        patientId: dep.id,
        clinicId: body.clinicId,
      });
      return c.json(dep, 201);
    });
}
