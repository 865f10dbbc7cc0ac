import type {
  ChatMessageInfo,
  ChatMethod,
  ChatNotifications,
  RequestData,
  ResponseData,
} from '../../signaling/protocol/index.ts';
import type { SignalingClient } from './signaling-client.ts';
import { TypedEvents } from './typed-events.ts';

/** What the chat needs of a socket: requests, and chat notifications by name (a session client or a user socket). */
export interface ChatTransport {
  request<M extends ChatMethod>(method: M, data: RequestData<M>): Promise<ResponseData[M]>;
  onNotification<N extends keyof ChatNotifications>(
    method: N,
    listener: (data: ChatNotifications[N]) => void,
  ): () => void;
}

/** The room socket as a chat transport (its chat requests name no conversation: the room's own). */
export function roomChatTransport(signaling: SignalingClient): ChatTransport {
  return {
    request: (method, data) => signaling.request(method, data),
    onNotification: (method, listener) =>
      signaling.on('notification', (m: string, data: unknown) => {
        if ((m as string) === method) (listener as (d: unknown) => void)(data);
      }),
  };
}

/** A message of mine the server has not acknowledged: shown as "sending", never as sent. */
export type PendingMessage = { id: string; body: string; state: 'sending' | 'failed'; error?: string };

export type ChatEvents = {
  /** Messages, pending sends, receipts or unread count changed: redraw. */
  changed: () => void;
  /** Who is typing now (member ids, me excluded). */
  typing: (memberIds: string[]) => void;
  error: (err: Error) => void;
};

/** How long a typing notice holds without a refresh: the sender repeats it while typing. */
export const TYPING_HOLD_MS = 5000;

/**
 * One conversation as a screen sees it, without the DOM: messages in seq order (one per seq, as
 * catch-up and live delivery overlap), my unacknowledged sends, others' read and delivered
 * watermarks, typing, and the unread count. On a new socket (`attach`) it catches up after the
 * last seq up to which it holds everything (and the edits and deletes after the last change it
 * applied), then re-sends its pending messages with their own ids: the server stores a retried id
 * once.
 */
export class ChatClient extends TypedEvents<ChatEvents> {
  readonly #messages = new Map<number, ChatMessageInfo>();
  readonly #pending = new Map<string, PendingMessage>();
  readonly #read = new Map<string, number>();
  readonly #delivered = new Map<string, number>();
  readonly #typing = new Map<string, ReturnType<typeof setTimeout>>();
  #transport: ChatTransport | undefined;
  #detach: (() => void)[] = [];
  #readSeq = 0;
  /** Every message up to this seq is held: where the next catch-up starts (not the highest seq held: an ack can run ahead). */
  #through = 0;
  /** Every edit and delete up to this change number is applied. */
  #changes = 0;
  /** Catch-up on the current socket has finished: live events now continue it without gaps. */
  #live = false;
  /** Seqs of my sends known from their ack alone, not yet seen as a message from the server. */
  readonly #ackedOnly = new Set<number>();
  #conversationId: string | undefined;

  constructor(
    readonly selfId: string,
    private readonly newId: () => string = () => crypto.randomUUID(),
  ) {
    super();
  }

  protected override listenerFailed(err: Error, event: keyof ChatEvents) {
    if (event !== 'error') this.emit('error', err);
  }

  get conversationId() {
    return this.#conversationId;
  }
  get lastSeq() {
    let last = 0;
    for (const seq of this.#messages.keys()) if (seq > last) last = seq;
    return last;
  }
  /** Oldest first. */
  get messages(): ChatMessageInfo[] {
    return [...this.#messages.values()].sort((a, b) => a.seq - b.seq);
  }
  get pending(): PendingMessage[] {
    return [...this.#pending.values()];
  }
  /** Who is typing now (me excluded). */
  get typingMembers(): string[] {
    return [...this.#typing.keys()];
  }
  /** Messages of others after my read watermark. */
  get unread(): number {
    return this.messages.filter((m) => m.seq > this.#readSeq && m.senderId !== this.selfId && !m.deleted)
      .length;
  }
  /** 'read' once another member read it, 'delivered' once delivered, else 'sent' (stored). */
  statusOf(m: ChatMessageInfo): 'sent' | 'delivered' | 'read' {
    const past = (marks: Map<string, number>) =>
      [...marks].some(([member, seq]) => member !== this.selfId && seq >= m.seq);
    return past(this.#read) ? 'read' : past(this.#delivered) ? 'delivered' : 'sent';
  }

  /** A new socket (first, resumed or rejoined): listen, catch up, then re-send what was not acknowledged. */
  async attach(transport: ChatTransport): Promise<void> {
    this.#detach.forEach((off) => off());
    this.#transport = transport;
    this.#live = false;
    this.#detach = [
      transport.onNotification('chat.message', (m) => {
        this.#add([m]);
        // Live delivery is in seq order from before the catch-up's first read: once that is done, it continues it.
        if (this.#live && transport === this.#transport) this.#through = Math.max(this.#through, m.seq);
      }),
      transport.onNotification('chat.edited', (e) => {
        const m = this.#messages.get(e.seq);
        if (m && (m.change ?? 0) <= e.change)
          this.#messages.set(e.seq, {
            ...m,
            body: e.body,
            edited: !e.deleted,
            deleted: e.deleted,
            change: e.change,
          });
        // Change numbers are gap-free: only the next one moves the watermark (a missed one is caught up later).
        if (this.#live && transport === this.#transport && e.change === this.#changes + 1)
          this.#changes = e.change;
        this.emit('changed');
      }),
      transport.onNotification('chat.receipt', (r) => {
        const marks = r.kind === 'read' ? this.#read : this.#delivered;
        marks.set(r.memberId, Math.max(marks.get(r.memberId) ?? 0, r.seq));
        if (r.memberId === this.selfId && r.kind === 'read') this.#readSeq = Math.max(this.#readSeq, r.seq);
        this.emit('changed');
      }),
      transport.onNotification('chat.typing', (t) => this.#typingNotice(t.memberId, t.typing)),
    ];
    for (;;) {
      const page = await transport.request('chat.after', { seq: this.#through, changesAfter: this.#changes });
      if (transport !== this.#transport) return;
      this.#conversationId = page.conversationId;
      this.#add(page.messages);
      this.#add(page.changes);
      this.#through = Math.max(this.#through, page.through);
      this.#changes = Math.max(this.#changes, page.changesThrough);
      if (!page.more) break;
    }
    // Held past the last page: arrived live, so everything up to the highest of them is held.
    this.#through = Math.max(this.#through, this.#highestLive());
    this.#live = true;
    for (const p of this.#pending.values()) if (p.state === 'sending') void this.#deliver(p);
  }

  /** Shown as "sending" at once; moves into the messages when the server acknowledges it. */
  send(body: string): PendingMessage {
    const p: PendingMessage = { id: this.newId(), body, state: 'sending' };
    this.#pending.set(p.id, p);
    this.emit('changed');
    void this.#deliver(p);
    return p;
  }

  /** Marks everything shown as read (the server clamps and only moves forward). */
  async markRead(): Promise<void> {
    const seq = this.lastSeq;
    if (!this.#transport || seq <= this.#readSeq) return;
    this.#readSeq = seq;
    this.emit('changed');
    await this.#transport.request('chat.read', { seq });
  }

  async typing(typing: boolean) {
    await this.#transport?.request('chat.typing', { typing });
  }

  async edit(id: string, body: string) {
    await this.#transport?.request('chat.edit', { id, body });
  }

  async delete(id: string) {
    await this.#transport?.request('chat.delete', { id });
  }

  close() {
    this.#detach.forEach((off) => off());
    this.#typing.forEach((timer) => clearTimeout(timer));
    this.#typing.clear();
  }

  async #deliver(p: PendingMessage) {
    const transport = this.#transport;
    if (!transport) return;
    try {
      const ack = await transport.request('chat.send', { clientId: p.id, body: p.body });
      this.#pending.delete(p.id);
      if (this.#messages.has(ack.seq)) return this.emit('changed');
      this.#ackedOnly.add(ack.seq);
      this.#add([
        {
          conversationId: ack.conversationId,
          seq: ack.seq,
          id: p.id,
          senderId: this.selfId,
          senderKind: 'user',
          audience: 'all',
          body: p.body,
          createdAt: ack.createdAt,
          edited: false,
          deleted: false,
        },
      ]);
    } catch (err) {
      // A refusal with a code (too long, rate limited, not allowed) fails the message; a lost
      // socket leaves it "sending" for the next attach to re-send with the same id.
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string') {
        p.state = 'failed';
        p.error = code;
        this.emit('changed');
      }
    }
  }

  #add(list: ChatMessageInfo[]) {
    for (const m of list) {
      const held = this.#messages.get(m.seq);
      if (held) this.#ackedOnly.delete(m.seq);
      // A catch-up page read before a live edit must not undo it: the later change wins.
      if (!held || (held.change ?? 0) <= (m.change ?? 0)) this.#messages.set(m.seq, m);
      if (m.senderId === this.selfId) this.#pending.delete(m.id);
    }
    if (list.length) this.emit('changed');
  }

  /** The highest seq that came as a message (not an ack of mine, which says nothing of the seqs before it). */
  #highestLive() {
    let last = 0;
    for (const seq of this.#messages.keys()) if (seq > last && !this.#ackedOnly.has(seq)) last = seq;
    return last;
  }

  #typingNotice(memberId: string, typing: boolean) {
    if (memberId === this.selfId) return;
    clearTimeout(this.#typing.get(memberId));
    if (typing)
      this.#typing.set(
        memberId,
        setTimeout(() => this.#typingNotice(memberId, false), TYPING_HOLD_MS),
      );
    else this.#typing.delete(memberId);
    this.emit('typing', [...this.#typing.keys()]);
  }
}
