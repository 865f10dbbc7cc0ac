import type { ChatMethod, ChatNotifications, ConversationInfo } from '../../signaling/protocol/index.ts';
import { ChatClient, type ChatTransport } from './chat-client.ts';
import { TypedEvents } from './typed-events.ts';
import type { UserSocket } from './user-socket.ts';

export {
  UserSocket,
  type AccessToken,
  type AccessTokenSource,
  type UserSocketOptions,
} from './user-socket.ts';

/** One conversation over the user socket: every request names it, only its notifications come through. */
export function conversationTransport(socket: UserSocket, conversationId: string): ChatTransport {
  return {
    request: (method: ChatMethod, data: object) =>
      socket.request(method, { ...data, conversationId } as never) as never,
    onNotification: (method, listener) =>
      socket.on('notification', (m: string, data: unknown) => {
        if (m !== method) return;
        if ((data as { conversationId?: unknown }).conversationId !== conversationId) return;
        (listener as (d: ChatNotifications[typeof method]) => void)(data as never);
      }),
  } as ChatTransport;
}

export type UserChatEvents = {
  /** The conversation list or a conversation's unread count changed: redraw the list. */
  conversations: (list: ConversationInfo[]) => void;
  /** The socket is open again and every open conversation has caught up. */
  synced: () => void;
  error: (err: Error) => void;
};

/**
 * All of a user's conversations over one user socket, without the DOM: the list with unread
 * counts (kept current by conversation.updated), and a ChatClient per opened conversation whose
 * transport is the shared socket. After every reconnect the list is read again and each open
 * conversation catches up after the last seq it holds, then re-sends what was not acknowledged.
 */
export class UserChatClient extends TypedEvents<UserChatEvents> {
  readonly #conversations = new Map<string, ConversationInfo>();
  readonly #chats = new Map<string, ChatClient>();
  readonly #offs: (() => void)[];

  constructor(
    readonly socket: UserSocket,
    private readonly newId?: () => string,
  ) {
    super();
    this.#offs = [
      socket.on('connected', () => void this.#sync()),
      socket.on('notification', (method, data) => {
        if (method === 'conversation.updated') this.#update([data as ConversationInfo]);
        if (method === 'conversation.removed')
          this.#remove((data as { conversationId: string }).conversationId);
      }),
    ];
    if (socket.connected) void this.#sync();
  }

  protected override listenerFailed(err: Error, event: keyof UserChatEvents) {
    if (event !== 'error') this.emit('error', err);
  }

  /** Newest activity first. */
  get conversations(): ConversationInfo[] {
    return [...this.#conversations.values()].sort((a, b) => b.lastSeq - a.lastSeq || (a.id < b.id ? -1 : 1));
  }

  get unreadTotal(): number {
    let n = 0;
    for (const c of this.#conversations.values()) n += c.unread;
    return n;
  }

  /** The conversation's chat, attached to the socket (caught up) on first use. */
  async open(conversationId: string): Promise<ChatClient> {
    const known = this.#chats.get(conversationId);
    if (known) return known;
    const selfId = this.socket.userId;
    if (!selfId) throw new Error('the user connection is not ready');
    const chat = new ChatClient(selfId, this.newId);
    this.#chats.set(conversationId, chat);
    try {
      await chat.attach(conversationTransport(this.socket, conversationId));
    } catch (err) {
      this.#chats.delete(conversationId);
      chat.close();
      throw err;
    }
    return chat;
  }

  /** Stops following a conversation on this client (the socket still carries it). */
  closeConversation(conversationId: string) {
    this.#chats.get(conversationId)?.close();
    this.#chats.delete(conversationId);
  }

  async refreshList(): Promise<ConversationInfo[]> {
    const { conversations } = await this.socket.request('conversations.list', {});
    this.#conversations.clear();
    this.#update(conversations);
    return this.conversations;
  }

  close() {
    this.#offs.forEach((off) => off());
    for (const chat of this.#chats.values()) chat.close();
    this.#chats.clear();
  }

  async #sync() {
    try {
      await this.refreshList();
      await Promise.all(
        [...this.#chats].map(([id, chat]) => chat.attach(conversationTransport(this.socket, id))),
      );
      this.emit('synced');
    } catch (err) {
      // A socket lost mid-sync syncs again on its next 'connected'.
      if (this.socket.connected) this.emit('error', err instanceof Error ? err : new Error(String(err)));
    }
  }

  #remove(conversationId: string) {
    this.closeConversation(conversationId);
    this.#conversations.delete(conversationId);
    this.emit('conversations', this.conversations);
  }

  #update(list: ConversationInfo[]) {
    for (const c of list) this.#conversations.set(c.id, c);
    this.emit('conversations', this.conversations);
  }
}
