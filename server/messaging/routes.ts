import { Hono } from 'hono';
import type { ApiEnv } from '../api/middleware.ts';
import { parseBody, parseParams, parseQuery } from '../api/validation.ts';
import { authenticate } from '../identity/authenticate.ts';
import type { Identity } from '../identity/create-identity.ts';
import type { Messaging } from './messaging.ts';
import {
  conversationParam,
  editBody,
  messageParam,
  messagesQuery,
  openCareThreadBody,
  receiptBody,
  sendBody,
} from './schemas.ts';

/**
 * Chat over HTTP: the conversation list, care threads, history and catch-up, and the fallback for
 * sending and receipts when no socket is open. Through the repository bound to the caller, which
 * decides and audits; HTTP callers are never "in the room" (presence 'absent').
 */
export function messagingRoutes(identity: Identity, messaging: Messaging) {
  const chat = (actor: ApiEnv['Variables']['actor']) =>
    messaging.forActor({ kind: 'user', actor, presence: 'absent' });
  return new Hono<ApiEnv>()
    .use(authenticate(identity))
    .get('/', async (c) => c.json({ conversations: await chat(c.var.actor).list() }, 200))
    .post('/care', async (c) => {
      const body = await parseBody(c, openCareThreadBody);
      const thread = await chat(c.var.actor).openCareThread(body);
      return c.json(thread, thread.created ? 201 : 200);
    })
    .get('/:conversationId/messages', async (c) => {
      const { conversationId } = parseParams(c, conversationParam);
      const q = parseQuery(c, messagesQuery);
      const repo = chat(c.var.actor);
      if (q.after !== undefined) {
        const page = await repo.catchUp(conversationId, {
          after: q.after,
          ...(q.changesAfter !== undefined ? { changesAfter: q.changesAfter } : {}),
          ...(q.limit !== undefined ? { limit: q.limit } : {}),
        });
        return c.json({ ...page, nextBefore: null }, 200);
      }
      return c.json(
        await repo.history(conversationId, {
          ...(q.before !== undefined ? { before: q.before } : {}),
          ...(q.limit !== undefined ? { limit: q.limit } : {}),
        }),
        200,
      );
    })
    .post('/:conversationId/messages', async (c) => {
      const { conversationId } = parseParams(c, conversationParam);
      const body = await parseBody(c, sendBody);
      const ack = await chat(c.var.actor).send(conversationId, body);
      return c.json(ack, ack.duplicate ? 200 : 201);
    })
    .patch('/:conversationId/messages/:messageId', async (c) => {
      const { conversationId, messageId } = parseParams(c, messageParam);
      const body = await parseBody(c, editBody);
      return c.json(await chat(c.var.actor).edit(conversationId, messageId, body.body), 200);
    })
    .delete('/:conversationId/messages/:messageId', async (c) => {
      const { conversationId, messageId } = parseParams(c, messageParam);
      await chat(c.var.actor).delete(conversationId, messageId);
      return c.body(null, 204);
    })
    .post('/:conversationId/read', async (c) => {
      const { conversationId } = parseParams(c, conversationParam);
      const { seq } = await parseBody(c, receiptBody);
      return c.json(await chat(c.var.actor).markRead(conversationId, seq), 200);
    });
}
