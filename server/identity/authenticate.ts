import { createMiddleware } from 'hono/factory';
import { ProblemError } from '../api/errors.ts';
import type { ApiEnv } from '../api/middleware.ts';
import { idSchema } from '../api/validation.ts';
import type { Actor } from '../policy/types.ts';
import { currentContext } from '../request-context.ts';
import { AccessTokenError } from './access-tokens.ts';
import type { Identity } from './create-identity.ts';
import { PROBLEM } from '../api/problem-codes.ts';

/** What an account with a one-time password may do: see itself, change the password, sign out. */
const ALLOWED_BEFORE_PASSWORD_CHANGE = new Set([
  'GET /api/me',
  'POST /api/me/password',
  'POST /api/auth/logout',
]);

/**
 * Bearer access token -> live server-side session -> actor with fresh clinic memberships. An
 * X-On-Behalf-Of header (a guardian acting for a dependent) is itself a policy decision.
 */
export function authenticate(identity: Identity, opts: { optional?: boolean } = {}) {
  return createMiddleware<ApiEnv>(async (c, next) => {
    // Sub-apps mounted on the same prefix each register this for the whole prefix (Hono merges
    // their middleware): authenticate once per request.
    if (c.get('actor')) return next();
    const header = c.req.header('authorization');
    if (!header) {
      if (opts.optional) return next();
      throw new ProblemError(
        401,
        PROBLEM.unauthenticated,
        'sign in first (Authorization: Bearer <access token>)',
      );
    }
    const match = /^Bearer ([A-Za-z0-9._-]+)$/.exec(header);
    if (!match) throw new ProblemError(401, PROBLEM.tokenInvalid, 'malformed Authorization header');
    let claims;
    try {
      claims = await identity.tokens.verify(match[1]!);
    } catch (err) {
      if (err instanceof AccessTokenError) throw new ProblemError(401, err.code, err.message);
      throw err;
    }
    const session = await identity.sessions.validate(claims.sid);
    if (session.userId !== claims.sub)
      throw new ProblemError(401, PROBLEM.tokenInvalid, 'access token invalid');
    if (
      session.passwordChangeRequired &&
      !ALLOWED_BEFORE_PASSWORD_CHANGE.has(`${c.req.method} ${c.req.path}`)
    ) {
      throw new ProblemError(
        403,
        PROBLEM.passwordChangeRequired,
        'change the one-time password first (POST /api/me/password)',
      );
    }
    const actor: Actor = {
      userId: session.userId,
      role: session.role,
      sessionId: session.id,
      clinicIds: session.clinicIds,
    };
    const ctx = currentContext();
    if (ctx) Object.assign(ctx, { actorId: actor.userId, actorRole: actor.role, sessionId: actor.sessionId });

    const onBehalfOf = c.req.header('x-on-behalf-of');
    if (onBehalfOf !== undefined) {
      const parsed = idSchema.safeParse(onBehalfOf);
      if (!parsed.success)
        throw new ProblemError(400, PROBLEM.invalidHeader, 'request is invalid', [
          { field: 'x-on-behalf-of', message: 'must be a UUID' },
        ]);
      await identity.actOnBehalfOf(actor, parsed.data);
      actor.onBehalfOf = parsed.data;
      if (ctx) ctx.onBehalfOf = parsed.data;
    }
    c.set('actor', actor);
    await next();
  });
}
