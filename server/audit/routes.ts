import { Hono } from 'hono';
import { z } from 'zod';
import { checkpointSignatureValid } from './checkpoints.ts';
import { ProblemError } from '../api/errors.ts';
import type { Identity } from '../identity/create-identity.ts';
import { dateTime, idSchema, parseQuery, positiveIntParam } from '../api/validation.ts';
import { type ApiEnv } from '../api/middleware.ts';
import { authenticate } from '../identity/authenticate.ts';
import { PROBLEM } from '../api/problem-codes.ts';

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
      const q = parseQuery(c, verifyQuery);
      await policy.require(c.var.actor, 'audit.verify', { type: 'platform' });
      if (q.seq === undefined) return c.json(await audit.verify(), 200);
      const checkpoint = { seq: q.seq, hash: q.hash!, signature: q.signature ?? '' };
      if (q.signature !== undefined && !checkpointSignatureValid(checkpoint, identity.keys.publicKey)) {
        throw new ProblemError(400, PROBLEM.invalidRequest, 'request is invalid', [
          { field: 'signature', message: 'not a checkpoint signed by this deployment' },
        ]);
      }
      return c.json(await audit.verify({ checkpoint }), 200);
    });
}
