import { Hono } from 'hono';
import { z } from 'zod';
import type { Identity } from '../identity/create-identity.ts';
import { idSchema, parseQuery } from '../validation.ts';
import { authenticate, type ApiEnv } from './middleware.ts';

const query = z.object({
  clinicId: idSchema.optional(),
  actorId: idSchema.optional(),
  patientId: idSchema.optional(),
  action: z.string().regex(/^[a-z_.]{1,64}$/, 'must be an action name').optional(),
  from: z.iso.datetime({ message: 'must be an ISO date-time', offset: true }).transform((s) => new Date(s)).optional(),
  to: z.iso.datetime({ message: 'must be an ISO date-time', offset: true }).transform((s) => new Date(s)).optional(),
  before: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

/** The audit log for admins: platform admins see all of it, clinic admins their clinic's entries. */
export function auditRoutes(identity: Identity) {
  const { policy, audit } = identity;
  return new Hono<ApiEnv>()
    .use(authenticate(identity))
    .get('/', async (c) => {
      const q = parseQuery(c, query);
      const actor = c.var.actor;
      if (q.clinicId) await policy.require(actor, 'audit.query', { type: 'clinic', clinicId: q.clinicId });
      else await policy.require(actor, 'audit.query_all', { type: 'platform' });
      const entries = await audit.query(q);
      const next = entries.length === q.limit ? entries[entries.length - 1]!.seq : null;
      return c.json({ entries, next }, 200);
    })
    .get('/verify', async (c) => {
      await policy.require(c.var.actor, 'audit.verify', { type: 'platform' });
      return c.json(await audit.verify(), 200);
    });
}
