import type { UserMethod, UserRequestData, UserResponses } from './protocol/index.ts';
import type { UserConnection } from './user-connection.ts';

type UserHandlers = {
  [M in UserMethod]: (c: UserConnection, data: UserRequestData<M>) => Promise<UserResponses[M]>;
};

/**
 * The user socket's requests. Chat calls go to the user's speaker in the named conversation,
 * which decides and audits each one exactly as the HTTP routes do (a conversation the user is
 * not in answers not_found, like an unknown one).
 */
export const userHandlers: UserHandlers = {
  'chat.send': (c, { conversationId, clientId, body }) => c.chat.speaker(conversationId).send(clientId, body),
  async 'chat.after'(c, { conversationId, seq, changesAfter, limit }) {
    const page = await c.chat.speaker(conversationId).catchUp({
      after: seq,
      ...(changesAfter === undefined ? {} : { changesAfter }),
      ...(limit === undefined ? {} : { limit }),
    });
    return { conversationId, ...page };
  },
  async 'chat.history'(c, { conversationId, before, limit }) {
    return { conversationId, ...(await c.chat.speaker(conversationId).history(before, limit ?? 50)) };
  },
  'chat.read': (c, { conversationId, seq }) => c.chat.speaker(conversationId).read(seq),
  'chat.delivered': (c, { conversationId, seq }) => c.chat.speaker(conversationId).delivered(seq),
  async 'chat.typing'(c, { conversationId, typing }) {
    await c.chat.speaker(conversationId).typing(typing ?? true);
    return {};
  },
  'chat.edit': (c, { conversationId, id, body }) => c.chat.speaker(conversationId).edit(id, body),
  async 'chat.delete'(c, { conversationId, id }) {
    await c.chat.speaker(conversationId).delete(id);
    return {};
  },
  async 'conversations.list'(c) {
    const conversations = await c.chat.list();
    // A conversation the socket missed (a lost membership message) is carried from now on.
    await Promise.all(conversations.map((conv) => c.follow(conv.id)));
    return { conversations };
  },
  'auth.refresh': (c, { accessToken }) => c.refresh(accessToken),
};
