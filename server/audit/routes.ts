import { Hono } from 'hono';
import { z } from 'zod';
import type { Identity } from '../identity/create-identity.ts';
import { dateTime, idSchema, parseQuery, positiveIntParam } from '../api/validation.ts';
import { type ApiEnv } from '../api/middleware.ts';
import { authenticate } from '../identity/authenticate.ts';

const query = z
  .object({
    clinicId: idSchema.optional(),
    actorId: idSchema.optional(),
    patientId: idSchema.optional(),
    action: z
      .string()
      .regex(/^[a-z_.]{1,64}$/, 'must be an action name')
      .optional(),
    from: dateTime('must be an ISO date-time with offset').optional(),
    to: dateTime('must be an ISO date-time with offset').optional(),
    before: positiveIntParam().optional(),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .refine((q) => !q.from || !q.to || q.from <= q.to, {
    message: 'must not be before from',
    path: ['to'],
    when: (p) => p.issues.length === 0,
  });

/** A checkpoint from the log (see server/audit/checkpoints.ts): seq and hash together, signature optional. */
const verifyQuery = z
  .object({
    seq: positiveIntParam().optional(),
    hash: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'must be a sha256 hex digest')
      .optional(),
    signature: z
      .string()
      .regex(/^[A-Za-z0-9_-]{86}$/, 'must be a base64url Ed25519 signature')
      .optional(),
  })
  .refine((q) => (q.seq === undefined) === (q.hash === undefined), {
    message: 'seq and hash go together',
    path: ['hash'],
  })
  .refine((q) => q.signature === undefined || q.seq !== undefined, {
    message: 'a signature needs seq and hash',
    path: ['signature'],
  });

/** The audit log for admins: platform admins see all of it, clinic admins their clinic's entries. */
export function auditRoutes(identity: Identity) {
  const { auditQueries } = identity;
  return new Hono<ApiEnv>()
    .use(authenticate(identity))
    .get('/', async (c) => {
      const q = parseQuery(c, query);
      return c.json(await auditQueries.forActor(c.var.actor).entries(q), 200);
    })
    .get('/verify', async (c) => {
      const q = parseQuery(c, verifyQuery);
      const checkpoint =
        q.seq === undefined ? undefined : { seq: q.seq, hash: q.hash!, signature: q.signature };
      return c.json(await auditQueries.forActor(c.var.actor).verify(checkpoint), 200);
    });
}
