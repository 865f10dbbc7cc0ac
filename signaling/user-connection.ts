import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ChatLiveEvent } from './chat-port.ts';
import {
  MAX_FRAME_BYTES,
  requestFrameSchema,
  userRequestSchemas,
  type CloseReason,
  type ErrorBody,
  type UserMethod,
  type UserNotifications,
} from './protocol/index.ts';
import { SignalingError, toErrorBody } from './signaling-error.ts';
import { closeWith, type ConnectionHandler, type SocketConnection } from './socket.ts';
import type { UserAuth, UserChat, UserChatSession, UserIdentity, UserSocketSlots } from './user-chat-port.ts';
import { userHandlers } from './user-handlers.ts';

export type UserConnectionDeps = {
  auth: UserAuth;
  chat: UserChat;
  logger: Logger;
  /** Requests per second per socket (a token bucket of twice that); beyond: rate_limited. */
  requestsPerSecond?: number;
  /** The per-user limit across the cluster (the service counts this node's sockets itself). */
  slots?: UserSocketSlots;
};

const decoder = new TextDecoder('utf-8', { fatal: true });
/** Counts coalesce: a burst of messages in one conversation is one conversation.updated. */
const SUMMARY_DELAY_MS = 50;

/**
 * One user socket: every conversation the account may read, subscribed when it opens (before any
 * request is served, so a catch-up can never miss a message committed meanwhile) and as new ones
 * are opened. Requests run one at a time, in the order they came. The socket closes itself, with
 * a catalogued reason, when its token expires unrefreshed or what it stands for ends.
 */
export class UserConnection {
  readonly handler: ConnectionHandler;
  #identity: UserIdentity;
  #chat: UserChatSession | undefined;
  #queue: Promise<void>;
  #closed = false;
  #notificationSeq = 0;
  #expiry: ReturnType<typeof setTimeout> | undefined;
  readonly #follows = new Map<string, Promise<(() => Promise<void>) | undefined>>();
  readonly #summaries = new Map<string, ReturnType<typeof setTimeout>>();
  #stopWatch: Promise<(() => Promise<void>) | undefined> = Promise.resolve(undefined);
  #stopLiveChat: Promise<(() => Promise<void>) | undefined> = Promise.resolve(undefined);
  #resyncing: Promise<void> = Promise.resolve();
  readonly #bucket: { tokens: number; at: number; rate: number };
  #active = false;
  /** This socket's slot among the account's sockets on every node, once taken. */
  #slot: string | undefined;

  constructor(
    readonly connection: SocketConnection,
    identity: UserIdentity,
    private readonly deps: UserConnectionDeps,
    private readonly onClosed: (c: UserConnection) => void,
  ) {
    this.#identity = identity;
    const rate = deps.requestsPerSecond ?? 50;
    this.#bucket = { tokens: rate * 2, at: performance.now(), rate };
    // Attached synchronously: the first frame may arrive right after the upgrade.
    this.handler = {
      onMessage: (data, isBinary) => this.#onMessage(data, isBinary),
      onClose: () => this.#cleanup(),
    };
    this.#queue = this.#start();
  }

  get identity() {
    return this.#identity;
  }

  get closed() {
    return this.#closed;
  }

  /** Whether the user sent a request since the last call (their activity for the idle timeout). */
  takeActivity(): boolean {
    const active = this.#active;
    this.#active = false;
    return active;
  }

  /** The chat session (only after the socket opened; requests wait for it). */
  get chat(): UserChatSession {
    if (!this.#chat) throw new SignalingError('internal', 'the user connection is not open');
    return this.#chat;
  }

  close(reason: CloseReason) {
    if (this.#closed) return;
    closeWith(this.connection, reason);
    this.#cleanup();
  }

  notify<N extends keyof UserNotifications>(method: N, data: UserNotifications[N]) {
    if (this.#closed) return;
    this.connection.send(
      JSON.stringify({ type: 'notification', seq: ++this.#notificationSeq, method, data }),
    );
  }

  /** auth.refresh: a token of the same session and user moves the expiry; anything else is refused. */
  async refresh(accessToken: string): Promise<{ expiresAt: number }> {
    let next: UserIdentity;
    try {
      next = this.deps.auth.verify(accessToken);
    } catch {
      throw new SignalingError('token_invalid', 'the access token is invalid or expired');
    }
    if (next.userId !== this.#identity.userId || next.sessionId !== this.#identity.sessionId)
      throw new SignalingError('token_invalid', 'the access token stands for another session');
    const ended = await this.deps.auth.check(next, true);
    if (ended) {
      queueMicrotask(() => this.close(ended));
      throw new SignalingError('token_invalid', 'the session is no longer valid');
    }
    if (next.expiresAtMs > this.#identity.expiresAtMs) this.#identity = next;
    this.#planExpiry();
    return { expiresAt: this.#identity.expiresAtMs };
  }

  /** Starts carrying a conversation (idempotent); a conversation the user may not read is skipped. */
  follow(conversationId: string): Promise<(() => Promise<void>) | undefined> {
    const known = this.#follows.get(conversationId);
    if (known) return known;
    if (this.#closed) return Promise.resolve(undefined);
    const started = this.chat
      .speaker(conversationId)
      .subscribe((e) => this.#live(conversationId, e))
      .catch((err: unknown) => {
        this.#follows.delete(conversationId);
        if (!(err instanceof SignalingError)) throw err;
        return undefined;
      });
    this.#follows.set(conversationId, started);
    return started;
  }

  async #start() {
    try {
      if (!(await this.#takeSlot())) return this.close('too_many_user_connections');
      if (this.#closed) return;
      const ended = await this.deps.auth.check(this.#identity, true);
      if (ended) return this.close(ended);
      if (this.#closed) return;
      this.#chat = await this.deps.chat.open(this.#identity);
      this.#stopWatch = this.#chat.watchNew((id) => void (id ? this.#joined(id) : this.#resync()));
      this.#stopLiveChat =
        this.#chat.watchLiveChat?.((e) => this.notify('livechat.event', e)) ?? Promise.resolve(undefined);
      const [list] = await Promise.all([this.#chat.list(), this.#stopWatch, this.#stopLiveChat]);
      await Promise.all(list.map((c) => this.follow(c.id)));
      if (this.#closed) return;
      this.#planExpiry();
      this.notify('user.ready', {
        userId: this.#identity.userId,
        expiresAt: this.#identity.expiresAtMs,
        conversations: list.length,
      });
    } catch (err) {
      if (err instanceof SignalingError && err.code === 'not_allowed') return this.close('session_revoked');
      this.deps.logger.warn({ err: (err as Error)?.message }, 'user connection could not open');
      this.close('server_shutdown');
    }
  }

  async #joined(conversationId: string) {
    try {
      if (this.#closed || !(await this.follow(conversationId))) return;
      this.#scheduleSummary(conversationId, 0);
    } catch (err) {
      this.deps.logger.warn(
        { err: (err as Error)?.message },
        'user connection could not follow a conversation',
      );
    }
  }

  /**
   * The user's memberships changed: ask again who they speak as and what they may read, stop
   * carrying what they may no longer read (conversation.removed) and start carrying what is new.
   * One at a time, so two changes in a row end in the state after both.
   */
  #resync(): Promise<void> {
    this.#resyncing = this.#resyncing.then(async () => {
      try {
        if (this.#closed) return;
        await this.chat.refresh();
        const list = await this.chat.list();
        if (this.#closed) return;
        const readable = new Set(list.map((c) => c.id));
        for (const [id, follow] of [...this.#follows]) {
          if (readable.has(id)) continue;
          this.#follows.delete(id);
          clearTimeout(this.#summaries.get(id));
          this.#summaries.delete(id);
          await follow.then((stop) => stop?.()).catch(() => {});
          this.notify('conversation.removed', { conversationId: id });
        }
        for (const c of list)
          if (!this.#follows.has(c.id) && (await this.follow(c.id))) this.notify('conversation.updated', c);
      } catch (err) {
        if (err instanceof SignalingError && err.code === 'not_allowed') return this.close('session_revoked');
        this.deps.logger.warn(
          { err: (err as Error)?.message },
          'user connection could not follow a membership change',
        );
      }
    });
    return this.#resyncing;
  }

  #live(conversationId: string, e: ChatLiveEvent) {
    this.notify(e.method, e.data as never);
    const me = this.#identity.userId;
    if (e.method === 'chat.message' && e.data.senderId !== me) this.#scheduleSummary(conversationId);
    if (e.method === 'chat.receipt' && e.data.memberId === me && e.data.kind === 'read')
      this.#scheduleSummary(conversationId);
    if (e.method === 'chat.edited' && e.data.deleted) this.#scheduleSummary(conversationId);
  }

  #scheduleSummary(conversationId: string, delay = SUMMARY_DELAY_MS) {
    if (this.#closed || this.#summaries.has(conversationId)) return;
    const timer = setTimeout(() => {
      this.#summaries.delete(conversationId);
      this.chat.summary(conversationId).then(
        (s) => s && this.notify('conversation.updated', s),
        () => {}, // a refused or failed count is not worth a frame; the next change sends it again
      );
    }, delay);
    this.#summaries.set(conversationId, timer);
  }

  #planExpiry() {
    clearTimeout(this.#expiry);
    if (this.#closed) return;
    const left = this.#identity.expiresAtMs - Date.now();
    this.#expiry = setTimeout(() => this.close('token_expired'), Math.max(0, left));
  }

  #onMessage(data: ArrayBuffer | Uint8Array, isBinary: boolean) {
    if (this.#closed) return;
    const sendError = (error: ErrorBody) => this.connection.send(JSON.stringify({ type: 'error', error }));
    if (data.byteLength > MAX_FRAME_BYTES)
      return sendError({
        code: 'frame_too_large',
        message: `frames are limited to ${MAX_FRAME_BYTES} bytes`,
      });
    if (isBinary) return sendError({ code: 'bad_frame', message: 'binary frames are not supported' });
    let json: unknown;
    try {
      json = JSON.parse(decoder.decode(data));
    } catch {
      return sendError({ code: 'bad_frame', message: 'frame is not valid UTF-8 JSON' });
    }
    const frame = requestFrameSchema.safeParse(json);
    if (!frame.success) {
      const id = (json as { id?: unknown } | null)?.id;
      const error: ErrorBody = { code: 'bad_frame', message: 'expected {type:"request", id, method, data}' };
      return typeof id === 'number' && Number.isSafeInteger(id)
        ? this.#respondError(id, error)
        : sendError(error);
    }
    const { id, method, data: body } = frame.data;
    if (!Object.hasOwn(userRequestSchemas, method))
      return this.#respondError(id, {
        code: 'unknown_method',
        message: `unknown method "${method.slice(0, 64)}"`,
      });
    if (!this.#takeToken())
      return this.#respondError(id, { code: 'rate_limited', message: 'too many requests; slow down' });
    const parsed = userRequestSchemas[method as UserMethod].safeParse(body ?? {});
    if (!parsed.success) {
      const { body: error } = toErrorBody(parsed.error);
      return this.#respondError(id, error);
    }
    this.#active = true;
    this.#queue = this.#queue.then(() => this.#run(id, method as UserMethod, parsed.data));
  }

  async #run(id: number, method: UserMethod, data: unknown) {
    if (this.#closed) return;
    try {
      const handler = userHandlers[method] as (c: UserConnection, d: unknown) => Promise<unknown>;
      const result = await handler(this, data);
      this.connection.send(JSON.stringify({ type: 'response', id, ok: true, data: result }));
    } catch (err) {
      const { body, unexpected } = toErrorBody(err);
      if (unexpected) this.deps.logger.error({ err: (err as Error)?.message, method }, 'user request failed');
      this.#respondError(id, body);
    }
  }

  #respondError(id: number, error: ErrorBody) {
    if (!this.#closed) this.connection.send(JSON.stringify({ type: 'response', id, ok: false, error }));
  }

  #takeToken(): boolean {
    const b = this.#bucket;
    const now = performance.now();
    b.tokens = Math.min(b.rate * 2, b.tokens + ((now - b.at) / 1000) * b.rate);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Before anything is served: the account may already hold its sockets on other nodes. */
  async #takeSlot(): Promise<boolean> {
    const { slots } = this.deps;
    if (!slots) return true;
    const slot = randomUUID();
    try {
      if (!(await slots.take(this.#identity.userId, slot))) return false;
    } catch (err) {
      // The limit guards resources, it is no permission: without the store, this node's count alone applies.
      this.deps.logger.warn({ err: (err as Error)?.message }, 'user socket limit not checked across nodes');
      return true;
    }
    this.#slot = slot;
    if (this.#closed) this.#releaseSlot();
    return true;
  }

  #releaseSlot() {
    if (this.#slot === undefined) return;
    this.deps.slots?.release(this.#identity.userId, this.#slot);
    this.#slot = undefined;
  }

  #cleanup() {
    if (this.#closed) return;
    this.#closed = true;
    this.#releaseSlot();
    clearTimeout(this.#expiry);
    for (const timer of this.#summaries.values()) clearTimeout(timer);
    this.#summaries.clear();
    const stops = [this.#stopWatch, this.#stopLiveChat, ...this.#follows.values()];
    this.#follows.clear();
    for (const stop of stops) void stop.then((s) => s?.()).catch(() => {});
    this.onClosed(this);
  }
}
