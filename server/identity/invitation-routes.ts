import { Hono } from 'hono';
import { z } from 'zod';
import type { Identity } from './create-identity.ts';
import { displayNameSchema, localDate, parseBody, passwordSchema, phoneSchema } from '../api/validation.ts';
import { admitSignIn } from './auth-routes.ts';
import { type ApiEnv } from '../api/middleware.ts';
import { authenticate } from './authenticate.ts';

const acceptBody = z.object({
  token: z.string().regex(/^[A-Za-z0-9_-]{20,100}$/, 'malformed invitation token'),
  displayName: displayNameSchema.optional(),
  password: passwordSchema.optional(),
  phone: phoneSchema.optional(),
  dateOfBirth: localDate('must be a date (YYYY-MM-DD)').optional(),
});

/** Redeeming an invitation link: creates the account, or adds a clinic to a signed-in one. */
export function invitationRoutes(identity: Identity) {
  return new Hono<ApiEnv>().post(
    '/accept',
    admitSignIn(identity),
    authenticate(identity, { optional: true }),
    async (c) => {
      const body = await parseBody(c, acceptBody);
      const actor = c.get('actor') as ApiEnv['Variables']['actor'] | undefined;
      const result = await identity.invitations.accept(body, actor ? { userId: actor.userId } : undefined);
      return c.json(
        { userId: result.userId, clinicId: result.clinicId, role: result.role },
        actor ? 200 : 201,
      );
    },
  );
}
