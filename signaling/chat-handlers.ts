import type { ChatPresence, ChatSpeaker } from './chat-port.ts';
import type { HandlersFor, RequestContext } from './handler-table.ts';
import type { Member } from './member.ts';
import type { ChatMethod } from './protocol/index.ts';
import { SignalingError } from './signaling-error.ts';

/** Live chat per room member: started by its first catch-up (chat.after), ended with its session. */
const live = new WeakMap<Member, Promise<() => Promise<void>>>();

function presenceOf(member: Member): ChatPresence {
  if (member.status === 'new') throw new SignalingError('not_joined', 'join the room first');
  return member.status;
}

async function speaker(ctx: RequestContext, conversationId: string | undefined): Promise<ChatSpeaker> {
  const chat = ctx.deps.chat;
  if (!chat) throw new SignalingError('not_allowed', 'chat is not available on this server');
  const s = await chat.speaker(ctx.member.claims, presenceOf(ctx.member));
  // The room socket speaks in the room's own conversation; naming another one is refused, not redirected.
  if (conversationId !== undefined && conversationId !== s.conversationId)
    throw new SignalingError('not_found', 'no such conversation in this room');
  return s;
}

/**
 * Subscribes an admitted member once. The subscription starts before the catch-up is read, so a
 * message committed in between arrives twice at worst (the client keeps one per seq), never not at all.
 */
async function startLive(member: Member, s: ChatSpeaker) {
  if (member.status !== 'admitted' || live.has(member)) return;
  const started = s.subscribe((e) => member.notify(e.method, e.data as never));
  live.set(member, started);
  member.session.onEnded(() => void started.then((stop) => stop()).catch(() => {}));
  try {
    await started;
  } catch (err) {
    live.delete(member);
    throw err;
  }
}

export const chatHandlers: HandlersFor<ChatMethod> = {
  async 'chat.send'(ctx, { conversationId, clientId, body }) {
    return (await speaker(ctx, conversationId)).send(clientId, body);
  },
  async 'chat.after'(ctx, { conversationId, seq, changesAfter, limit }) {
    const s = await speaker(ctx, conversationId);
    await startLive(ctx.member, s);
    const page = await s.catchUp({
      after: seq,
      ...(changesAfter === undefined ? {} : { changesAfter }),
      ...(limit === undefined ? {} : { limit }),
    });
    return { conversationId: s.conversationId, ...page };
  },
  async 'chat.history'(ctx, { conversationId, before, limit }) {
    const s = await speaker(ctx, conversationId);
    return { conversationId: s.conversationId, ...(await s.history(before, limit ?? 50)) };
  },
  async 'chat.read'(ctx, { conversationId, seq }) {
    return (await speaker(ctx, conversationId)).read(seq);
  },
  async 'chat.delivered'(ctx, { conversationId, seq }) {
    return (await speaker(ctx, conversationId)).delivered(seq);
  },
  async 'chat.typing'(ctx, { conversationId, typing }) {
    await (await speaker(ctx, conversationId)).typing(typing ?? true);
    return {};
  },
  async 'chat.edit'(ctx, { conversationId, id, body }) {
    return (await speaker(ctx, conversationId)).edit(id, body);
  },
  async 'chat.delete'(ctx, { conversationId, id }) {
    await (await speaker(ctx, conversationId)).delete(id);
    return {};
  },
};
