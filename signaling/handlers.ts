import { chatHandlers } from './chat-handlers.ts';
import { fileHandlers } from './file-handlers.ts';
import type { HandlersFor, RequestContext } from './handler-table.ts';
import { mediaHandlers } from './media-handlers.ts';
import { moderationHandlers } from './moderation-handlers.ts';
import type { Method } from './protocol/index.ts';
import type { RequestDispatch } from './session.ts';
import { waitingRoomHandlers } from './waiting-room-handlers.ts';

/** Every method's handler: the feature tables, merged (the protocol's request map merges their schemas the same way). */
export const handlers: HandlersFor<Method> = {
  ...waitingRoomHandlers,
  ...mediaHandlers,
  ...moderationHandlers,
  ...chatHandlers,
  ...fileHandlers,
};

/** A session's requests, answered for this room member. */
export function roomRequests(ctx: RequestContext): RequestDispatch {
  return (method, data) =>
    (handlers[method] as (ctx: RequestContext, data: unknown) => Promise<unknown>)(ctx, data);
}
