import { Hono } from 'hono';
import { z } from 'zod';
import type { ApiEnv } from '../../api/middleware.ts';
import { parseQuery } from '../../api/validation.ts';
import { authenticate } from '../../identity/authenticate.ts';
import type { Identity } from '../../identity/create-identity.ts';
import type { Icd10Search } from './icd10-search-service.ts';
import { ICD10_SEARCH_LIMITS } from './search.ts';

// Length, word count and limit range are checked by searchIcd10 (invalid_icd10_query, 400).
const icd10Query = z.strictObject({
  q: z.string({ message: 'required' }),
  limit: z.coerce.number().int().optional(),
});

/** GET /api/icd10?q=...&limit=...: codes by prefix and words, ranked; for the encounter form. */
export function icd10Routes(identity: Identity, icd10: Icd10Search) {
  return new Hono<ApiEnv>().use(authenticate(identity)).get('/', async (c) => {
    const { q, limit } = parseQuery(c, icd10Query);
    const matches = await icd10.search(c.var.actor, q, limit);
    // Reference data, the same for every doctor: a short private cache spares repeated keystrokes.
    c.header('cache-control', 'private, max-age=300');
    return c.json({ query: q, matches, limit: limit ?? ICD10_SEARCH_LIMITS.defaultLimit }, 200);
  });
}
