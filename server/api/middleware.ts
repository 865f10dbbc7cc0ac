import { randomUUID } from 'node:crypto';
import type { BlockList } from 'node:net';
import type { Context, MiddlewareHandler } from 'hono';
import { clientAddress } from './client-ip.ts';
import type { Actor } from '../policy/types.ts';
import type { Logger } from '../logger.ts';
import { currentContext, runWithContext, type RequestContext } from '../request-context.ts';

export type ApiEnv = {
  Bindings: { remoteAddress?: string } | undefined;
  Variables: { actor: Actor; requestId: string };
};

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
      {
        requestId: ctx.requestId,
        method: c.req.method,
        route: c.req.routePath,
        status: c.res.status,
        ms: Math.round(performance.now() - started),
        actorId: ctx.actorId,
        onBehalfOf: ctx.onBehalfOf,
      },
      'api request',
    );
  };
}

export function clientMeta(c: Context) {
  const ctx = currentContext();
  return { ip: ctx?.ip ?? 'unknown', userAgent: ctx?.userAgent };
}
