import { Hono } from 'hono';
import type { ApiEnv } from '../api/middleware.ts';
import { parseBody, parseParams } from '../api/validation.ts';
import { authenticate } from '../identity/authenticate.ts';
import type { Identity } from '../identity/create-identity.ts';
import { CannedReplies } from './canned-replies.ts';
import type { LiveChat } from './live-chat.ts';
import {
  cannedBody,
  cannedParam,
  cannedSendBody,
  chatParam,
  clinicParam,
  closeBody,
  noteBody,
  presenceBody,
  settingsBody,
  startBody,
  transferBody,
} from './schemas.ts';

/**
 * Live chat over HTTP (/api/livechat): the patient's start, state and reopen; the operator's
 * presence, queue, accept, transfer, notes, canned replies and close; the clinic's settings. The
 * chat's messages are read and written under /api/conversations like any conversation. Everything
 * goes through the desk bound to the caller, which decides and audits.
 */
export function liveChatRoutes(identity: Identity, livechat: LiveChat) {
  const desk = (actor: ApiEnv['Variables']['actor']) => livechat.forActor(actor);
  return new Hono<ApiEnv>()
    .use(authenticate(identity))
    .post('/chats', async (c) => {
      const body = await parseBody(c, startBody);
      return c.json(await desk(c.var.actor).start(body), 201);
    })
    .get('/chats/:conversationId', async (c) => {
      const { conversationId } = parseParams(c, chatParam);
      return c.json(await desk(c.var.actor).state(conversationId), 200);
    })
    .post('/chats/:conversationId/reopen', async (c) => {
      const { conversationId } = parseParams(c, chatParam);
      return c.json(await desk(c.var.actor).reopen(conversationId), 200);
    })
    .post('/chats/:conversationId/accept', async (c) => {
      const { conversationId } = parseParams(c, chatParam);
      return c.json(await desk(c.var.actor).accept(conversationId), 200);
    })
    .post('/chats/:conversationId/transfer', async (c) => {
      const { conversationId } = parseParams(c, chatParam);
      const body = await parseBody(c, transferBody);
      return c.json(await desk(c.var.actor).transfer(conversationId, body), 200);
    })
    .post('/chats/:conversationId/close', async (c) => {
      const { conversationId } = parseParams(c, chatParam);
      const body = await parseBody(c, closeBody);
      return c.json(await desk(c.var.actor).close(conversationId, body), 200);
    })
    .post('/chats/:conversationId/notes', async (c) => {
      const { conversationId } = parseParams(c, chatParam);
      const body = await parseBody(c, noteBody);
      const ack = await desk(c.var.actor)
        .chat()
        .send(conversationId, { ...body, audience: 'staff' });
      return c.json(ack, ack.duplicate ? 200 : 201);
    })
    .post('/chats/:conversationId/canned', async (c) => {
      const { conversationId } = parseParams(c, chatParam);
      const body = await parseBody(c, cannedSendBody);
      const ack = await new CannedReplies(livechat, desk(c.var.actor)).send(conversationId, body);
      return c.json(ack, ack.duplicate ? 200 : 201);
    })
    .get('/clinics/:clinicId/queue', async (c) => {
      const { clinicId } = parseParams(c, clinicParam);
      return c.json({ chats: await desk(c.var.actor).queue(clinicId) }, 200);
    })
    .put('/clinics/:clinicId/presence', async (c) => {
      const { clinicId } = parseParams(c, clinicParam);
      const body = await parseBody(c, presenceBody);
      return c.json(await desk(c.var.actor).setPresence({ clinicId, ...body }), 200);
    })
    .post('/clinics/:clinicId/presence/heartbeat', async (c) => {
      const { clinicId } = parseParams(c, clinicParam);
      return c.json(await desk(c.var.actor).heartbeat(clinicId), 200);
    })
    .put('/clinics/:clinicId/settings', async (c) => {
      const { clinicId } = parseParams(c, clinicParam);
      const body = await parseBody(c, settingsBody);
      return c.json(await desk(c.var.actor).setSettings(clinicId, body), 200);
    })
    .get('/clinics/:clinicId/canned-replies', async (c) => {
      const { clinicId } = parseParams(c, clinicParam);
      return c.json({ replies: await new CannedReplies(livechat, desk(c.var.actor)).list(clinicId) }, 200);
    })
    .post('/clinics/:clinicId/canned-replies', async (c) => {
      const { clinicId } = parseParams(c, clinicParam);
      const body = await parseBody(c, cannedBody);
      return c.json(await new CannedReplies(livechat, desk(c.var.actor)).create(clinicId, body), 201);
    })
    .delete('/clinics/:clinicId/canned-replies/:replyId', async (c) => {
      const { clinicId, replyId } = parseParams(c, cannedParam);
      await new CannedReplies(livechat, desk(c.var.actor)).remove(clinicId, replyId);
      return c.body(null, 204);
    });
}
