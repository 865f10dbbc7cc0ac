import { Hono, type Context } from 'hono';
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
  const own = (c: Context<ApiEnv>) => identity.ownAccounts.forActor(c.var.actor);
  return new Hono<ApiEnv>()
    .use(authenticate(identity))
    .get('/', async (c) => c.json(await own(c).profile(), 200))
    .patch('/', async (c) => c.json(await own(c).setTimeZone(() => parseBody(c, profileBody)), 200))
    .post('/password', async (c) => {
      await own(c).changePassword(() => parseBody(c, passwordBody), clientMeta(c).ip);
      return c.body(null, 204);
    })
    .put('/mfa', async (c) => c.json(await own(c).setMfaMethod(() => parseBody(c, mfaBody)), 200))
    .post('/totp/setup', async (c) => c.json(await own(c).beginTotp(), 200))
    .post('/totp/confirm', async (c) => c.json(await own(c).confirmTotp(() => parseBody(c, codeBody)), 200))
    .delete('/totp', async (c) => {
      await own(c).disableTotp();
      return c.body(null, 204);
    })
    .get('/dependents', async (c) => c.json({ dependents: await own(c).dependents() }, 200))
    .post('/dependents', async (c) =>
      c.json(await own(c).addDependent(() => parseBody(c, dependentBody)), 201),
    );
}
