import { AsyncLocalStorage } from 'node:async_hooks';
import type { UserRole } from '../db/schema/index.ts';

/** Who is acting, for whom, from where: read by the audit log without threading it through every call. */
export type RequestContext = {
  requestId: string;
  ip: string;
  userAgent: string | undefined;
  actorId?: string;
  actorRole?: UserRole;
  sessionId?: string;
  /** A guardian acting for a dependent: the dependent's user id. */
  onBehalfOf?: string;
};

const storage = new AsyncLocalStorage<RequestContext>();

export function runWithContext<T>(ctx: RequestContext, fn: () => T): T {
  return storage.run(ctx, fn);
}

export function currentContext(): RequestContext | undefined {
  return storage.getStore();
}
