import { randomUUID } from 'node:crypto';
import type { BlockList } from 'node:net';
import type { Context, MiddlewareHandler } from 'hono';
import { createMiddleware } from 'hono/factory';
import { clientAddress } from './client-ip.ts';
import { ProblemError } from './errors.ts';
import { AccessTokenError } from '../identity/access-tokens.ts';
import type { Identity } from '../identity/create-identity.ts';
import type { Actor } from '../policy/types.ts';
import type { Logger } from '../logger.ts';
import { currentContext, runWithContext, type RequestContext } from '../request-context.ts';
import { idSchema } from './validation.ts';

/** What an account with a one-time password may do: see itself, change the password, sign out. */
const ALLOWED_BEFORE_PASSWORD_CHANGE = new Set(['GET /api/me', 'POST /api/me/password', 'POST /api/auth/logout']);

export type ApiEnv = { Bindings: { remoteAddress?: string } | undefined; Variables: { actor: Actor; requestId: string } };

/**
 * Gives every request (API, pages, refusals before any route) an id, in the x-request-id header and
 * in problem+json bodies, so a user's report of an error finds its log lines.
 */
export function assignRequestId(): MiddlewareHandler<{ Variables: { requestId: string } }> {
  return async (c, next) => {
    const id = randomUUID();
    c.set('requestId', id);
    c.header('x-request-id', id);
    await next();
  };
}

/**
 * Opens the request-scoped context (request id, client IP) that the audit log reads, and logs one
 * line per request with ids only: the route pattern, never the URL (ids, tokens) or the body.
 */
export function requestContext(logger: Logger, trustedProxies?: BlockList): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const peer = c.env?.remoteAddress;
    const ctx: RequestContext = {
      requestId: c.get('requestId') ?? randomUUID(),
      // The client's address (behind a trusted proxy, from X-Forwarded-For): rate limits and the audit log use it.
      ip: peer ? clientAddress(peer, c.req.header('x-forwarded-for'), trustedProxies) : 'unknown',
      userAgent: c.req.header('user-agent'),
    };
    const started = performance.now();
    if (!c.get('requestId')) {
      c.set('requestId', ctx.requestId);
      c.header('x-request-id', ctx.requestId);
    }
    await runWithContext(ctx, next);
    logger.info(
      { requestId: ctx.requestId, method: c.req.method, route: c.req.routePath, status: c.res.status, ms: Math.round(performance.now() - started), actorId: ctx.actorId, onBehalfOf: ctx.onBehalfOf },
      'api request',
    );
  };
}

export function clientMeta(c: Context) {
  const ctx = currentContext();
  return { ip: ctx?.ip ?? 'unknown', userAgent: ctx?.userAgent };
}

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
      throw new ProblemError(401, 'unauthenticated', 'sign in first (Authorization: Bearer <access token>)');
    }
    const match = /^Bearer ([A-Za-z0-9._-]+)$/.exec(header);
    if (!match) throw new ProblemError(401, 'token_invalid', 'malformed Authorization header');
    let claims;
    try {
      claims = await identity.tokens.verify(match[1]!);
    } catch (err) {
      if (err instanceof AccessTokenError) throw new ProblemError(401, err.code, err.message);
      throw err;
    }
    const session = await identity.sessions.validate(claims.sid);
    if (session.userId !== claims.sub) throw new ProblemError(401, 'token_invalid', 'access token invalid');
    if (session.passwordChangeRequired && !ALLOWED_BEFORE_PASSWORD_CHANGE.has(`${c.req.method} ${c.req.path}`)) {
      throw new ProblemError(403, 'password_change_required', 'change the one-time password first (POST /api/me/password)');
    }
    const actor: Actor = { userId: session.userId, role: session.role, sessionId: session.id, clinicIds: session.clinicIds };
    const ctx = currentContext();
    if (ctx) Object.assign(ctx, { actorId: actor.userId, actorRole: actor.role, sessionId: actor.sessionId });

    const onBehalfOf = c.req.header('x-on-behalf-of');
    if (onBehalfOf !== undefined) {
      const parsed = idSchema.safeParse(onBehalfOf);
      if (!parsed.success) throw new ProblemError(400, 'invalid_header', 'request is invalid', [{ field: 'x-on-behalf-of', message: 'must be a UUID' }]);
      const facts = await identity.policy.patient(parsed.data);
      await identity.policy.require(actor, 'patient.act_on_behalf', facts);
      actor.onBehalfOf = parsed.data;
      if (ctx) ctx.onBehalfOf = parsed.data;
    }
    c.set('actor', actor);
    await next();
  });
}
