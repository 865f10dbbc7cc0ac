import { and, eq, sql } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.ts';
import { messageRevisions, messages } from '../../db/schema/index.ts';
import { ProblemError } from '../api/errors.ts';
import { PROBLEM } from '../api/problem-codes.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { MessagingConfig } from '../config.ts';
import { DecryptionError, type MessageSealer } from '../crypto/index.ts';
import { nextChange, readCatchUp } from './catch-up.ts';
import { ChatAccess, type Allowed } from './chat-access.ts';
import { ConversationDirectory } from './conversation-directory.ts';
import type { ConversationFactsCache } from './conversation-facts.ts';
import { visibleMessage } from './decide-messaging.ts';
import type { ConversationEvent, ConversationFanOut } from './fan-out.ts';
import { FileMessages } from './file-messages.ts';
import { assertMessageId, messageBytes, type SendRateLimiter } from './limits.ts';
import type { MessageWriter } from './message-writer.ts';
import type { ReceiptKind, ReceiptWriter } from './receipt-writer.ts';
import { conversationScope } from './scope.ts';
import type { CatchUp, ChatActor, ChatMessage, SendAck } from './types.ts';

export type ChatDeps = {
  db: Db;
  audit: AuditLog;
  sealer: MessageSealer;
  writer: MessageWriter;
  receipts: ReceiptWriter;
  fanOut: ConversationFanOut;
  limiter: SendRateLimiter;
  facts: ConversationFactsCache;
  config: MessagingConfig;
};

type MessageRow = typeof messages.$inferSelect;
export const MAX_PAGE = 200;

/**
 * One speaker's view of chat. Every operation loads the conversation's facts, decides
 * (decideMessaging), and writes or reads together with its audit entries in ONE transaction; a
 * refusal is audited too. Bodies are sealed under the conversation's data key before they reach
 * the database, and a body that fails to open is a typed error, never garbage.
 */
export class ChatRepository {
  readonly memberId: string;
  private readonly access: ChatAccess;
  private readonly directory: ConversationDirectory;
  private readonly fileMessages: FileMessages;

  constructor(
    private readonly deps: ChatDeps,
    readonly who: ChatActor,
  ) {
    this.access = new ChatAccess(deps, who);
    this.directory = new ConversationDirectory(deps, this.access);
    this.fileMessages = new FileMessages(deps, this.access);
    this.memberId = this.access.memberId;
  }

  /** The room conversation of an appointment, created on first use; for anyone who may read or post in it. */
  roomConversation(appointmentId: string) {
    return this.directory.roomConversation(appointmentId);
  }

  /** The care thread of a doctor–patient pair in a clinic, opened if need be (by either side, once eligible). */
  openCareThread(f: { clinicId: string; doctorId: string; patientId: string }) {
    return this.directory.openCareThread(f);
  }

  /** My conversations with their unread counts. */
  list() {
    return this.directory.list();
  }

  /** One of my conversations with its unread count (undefined when the list would not show it). */
  summary(conversationId: string) {
    return this.directory.summary(conversationId);
  }

  /** `audience: 'staff'`: a live chat's internal note, which only its host (the staff holder) may write. */
  async send(
    conversationId: string,
    input: { id: unknown; body: unknown; audience?: 'staff' },
  ): Promise<SendAck> {
    assertMessageId(input.id);
    const bytes = messageBytes(input.body, this.deps.config.maxBytes);
    const decided = await this.access.decided(conversationId, 'post');
    const { facts } = decided;
    if (input.audience === 'staff' && (facts.kind !== 'livechat' || !decided.decision.host))
      throw new ProblemError(403, PROBLEM.forbidden, "only the chat's staff holder writes internal notes");
    const decision =
      input.audience === 'staff' ? { ...decided.decision, audience: 'staff' as const } : decided.decision;
    await this.fileMessages.assertSendable(facts, input.id, input.body as string);
    this.deps.limiter.take(this.memberId);
    const sealedBody = await this.deps.sealer.seal(conversationScope(conversationId), input.id, bytes);
    const createdAt = new Date();
    const outcome = await this.deps.writer.write({
      conversationId,
      id: input.id,
      senderId: this.memberId,
      senderKind: this.who.kind,
      audience: decision.audience,
      sealedBody,
      createdAt,
      audit: this.access.entry('message.sent', decision, facts, input.id),
    });
    if (!outcome.ok) throw outcome.error;
    const ack = {
      conversationId,
      id: input.id,
      seq: outcome.seq,
      createdAt: outcome.createdAt.toISOString(),
      duplicate: outcome.duplicate,
    };
    if (!outcome.duplicate)
      this.deps.fanOut.publish({
        type: 'message',
        conversationId,
        seq: ack.seq,
        id: ack.id,
        senderId: this.memberId,
        senderKind: this.who.kind,
        audience: decision.audience,
        sealed: Buffer.from(sealedBody.buffer, sealedBody.byteOffset, sealedBody.byteLength).toString(
          'base64',
        ),
        createdAt: ack.createdAt,
      });
    return ack;
  }

  /** Everything after `seq`, oldest first (catch-up after a reconnect); at most `limit`, then ask again. */
  async after(conversationId: string, seq: number, limit = MAX_PAGE): Promise<ChatMessage[]> {
    // New messages only: a watermark past every change skips the changes' read.
    const page = await this.catchUp(conversationId, {
      after: seq,
      changesAfter: Number.MAX_SAFE_INTEGER,
      limit,
    });
    return page.messages;
  }

  /**
   * What a client missed: the messages after its last seq, and the older ones edited or deleted
   * after its change watermark (live edits carry their change number, so a client that applied
   * them all moves its watermark without asking). One page, one transaction, one audit entry.
   */
  async catchUp(
    conversationId: string,
    from: { after: number; changesAfter?: number; limit?: number },
  ): Promise<CatchUp> {
    const limit = pageSize(from.limit ?? MAX_PAGE);
    const changesAfter = from.changesAfter ?? 0;
    if (!validSeq(from.after) || !validSeq(changesAfter))
      throw new ProblemError(400, PROBLEM.invalidRequest, 'catch-up names a seq and a change number');
    const { facts, decision } = await this.access.decided(conversationId, 'read', { audit: false });
    const page = await this.access.audited([this.access.entry('conversation.read', decision, facts)], (tx) =>
      readCatchUp(tx, conversationId, { after: from.after, changesAfter, limit }),
    );
    const [shown, changes] = await Promise.all([
      this.#open(conversationId, { rows: page.rows, decision }),
      this.#open(conversationId, { rows: page.changed, decision }),
    ]);
    return {
      messages: shown,
      through: page.through,
      changes,
      changesThrough: page.changesThrough,
      more: page.more,
    };
  }

  /** Newest first, before the cursor `before` (a seq; none = the newest): pages of any depth. */
  async history(conversationId: string, opts: { before?: number; limit?: number } = {}) {
    const limit = pageSize(opts.limit ?? 50);
    const rows = await this.#read(conversationId, (tx) =>
      tx
        .select()
        .from(messages)
        .where(
          and(
            eq(messages.conversationId, conversationId),
            opts.before === undefined ? undefined : sql`${messages.seq} < ${opts.before}`,
          ),
        )
        .orderBy(sql`${messages.seq} desc`)
        .limit(limit),
    );
    const items = await this.#open(conversationId, rows);
    const last = rows.rows[rows.rows.length - 1];
    return { messages: items, nextBefore: rows.rows.length === limit && last ? last.seq : null };
  }

  async edit(conversationId: string, messageId: string, body: unknown): Promise<ChatMessage> {
    assertMessageId(messageId);
    const bytes = messageBytes(body, this.deps.config.maxBytes);
    const { facts, decision } = await this.access.decided(conversationId, 'post');
    await this.fileMessages.assertEditable(facts, messageId, body as string);
    const sealed = await this.deps.sealer.seal(conversationScope(conversationId), messageId, bytes);
    const at = new Date();
    const row = await this.access.audited(
      [this.access.entry('message.edited', decision, facts, messageId)],
      async (tx) => {
        const change = await nextChange(tx, conversationId);
        const current = await this.#ownMessage(tx, conversationId, messageId);
        await tx.insert(messageRevisions).values({
          conversationId,
          messageId,
          revision: current.revision,
          sealedBody: current.sealedBody,
          replacedBy: this.memberId,
        });
        const [updated] = await tx
          .update(messages)
          .set({ sealedBody: sealed, revision: current.revision + 1, editedAt: at, changeSeq: change })
          .where(and(eq(messages.conversationId, conversationId), eq(messages.id, messageId)))
          .returning();
        return updated!;
      },
    );
    this.deps.fanOut.publish({
      type: 'edited',
      conversationId,
      seq: row.seq,
      id: messageId,
      change: row.changeSeq ?? 0,
      senderId: row.senderId,
      audience: row.audience,
      sealed: Buffer.from(sealed).toString('base64'),
      at: at.toISOString(),
    });
    return (await this.#open(conversationId, [row]))[0]!;
  }

  /** Hidden from members, kept for the record: the body stays sealed in its row, the audit log says who deleted it. */
  async delete(conversationId: string, messageId: string): Promise<void> {
    assertMessageId(messageId);
    const { facts, decision } = await this.access.decided(conversationId, 'post');
    const at = new Date();
    const { seq, change, audience } = await this.access.audited(
      [this.access.entry('message.deleted', decision, facts, messageId)],
      async (tx) => {
        const change = await nextChange(tx, conversationId);
        const current = await this.#ownMessage(tx, conversationId, messageId);
        await tx
          .update(messages)
          .set({ deletedAt: at, changeSeq: change })
          .where(and(eq(messages.conversationId, conversationId), eq(messages.id, messageId)));
        return { seq: current.seq, change, audience: current.audience };
      },
    );
    this.deps.fanOut.publish({
      type: 'deleted',
      conversationId,
      seq,
      id: messageId,
      change,
      senderId: this.memberId,
      audience,
      at: at.toISOString(),
    });
  }

  /** Receipts are watermarks that only move forward, and never past the last message. */
  markDelivered(conversationId: string, seq: number) {
    return this.#receipt(conversationId, 'delivered', seq);
  }

  markRead(conversationId: string, seq: number) {
    return this.#receipt(conversationId, 'read', seq);
  }

  /** Ephemeral: decided like a post, published, never stored. */
  async typing(conversationId: string, typing: boolean): Promise<void> {
    await this.access.decided(conversationId, 'post', { audit: false });
    this.deps.fanOut.publish({ type: 'typing', conversationId, memberId: this.memberId, typing });
  }

  /**
   * Live events of a conversation for this speaker, opened and filtered (hosts-only messages reach
   * hosts and their sender). Decided and audited once, as a read; the caller unsubscribes when
   * the speaker leaves (a guest's subscription ends with the guest's admission).
   */
  async subscribe(
    conversationId: string,
    listener: (e: LiveEvent) => void,
    onUnreadable: (err: unknown) => void = () => {},
  ): Promise<() => Promise<void>> {
    const { decision } = await this.access.decided(conversationId, 'read', {
      audit: true,
      action: 'conversation.subscribed',
    });
    const scope = conversationScope(conversationId);
    // Opening a body awaits its data key (loaded once, then cached), so a later event can be ready
    // first: bodies open concurrently, but the listener gets events in the order the bus gave them.
    let delivered: Promise<void> = Promise.resolve();
    return this.deps.fanOut.subscribe(conversationId, (e: ConversationEvent) => {
      const opened = this.#live(scope, decision, e);
      delivered = delivered
        .then(() => opened)
        .then((out) => {
          if (out) listener(out);
        }, onUnreadable)
        .catch(onUnreadable);
    });
  }

  async #live(scope: string, decision: Allowed, e: ConversationEvent): Promise<LiveEvent | undefined> {
    if (e.type === 'message') {
      if (!visibleMessage(decision, this.memberId, e)) return undefined;
      const body = await this.deps.sealer.openText(scope, e.id, Buffer.from(e.sealed, 'base64'));
      const { sealed: _sealed, ...rest } = e;
      return { ...rest, body, edited: false, deleted: false };
    }
    if ((e.type === 'edited' || e.type === 'deleted') && !visibleMessage(decision, this.memberId, e))
      return undefined;
    if (e.type === 'edited') {
      const body = await this.deps.sealer.openText(scope, e.id, Buffer.from(e.sealed, 'base64'));
      const { sealed: _sealed, ...rest } = e;
      return { ...rest, body };
    }
    return e;
  }

  async #receipt(conversationId: string, kind: ReceiptKind, seq: number) {
    if (!validSeq(seq)) throw new ProblemError(400, PROBLEM.invalidRequest, 'a receipt names a message seq');
    // A refused receipt is audited under the receipt's own action, like a moved one.
    const { facts, decision } = await this.access.decided(conversationId, 'receipt', {
      audit: false,
      action: kind === 'read' ? 'message.read' : 'message.delivered',
    });
    const outcome = await this.deps.receipts.write({
      conversationId,
      memberId: this.memberId,
      memberKind: this.who.kind,
      kind,
      seq,
      audit: (moved, messageId) =>
        this.access.entry(
          moved === 'read' ? 'message.read' : 'message.delivered',
          decision,
          facts,
          messageId ?? undefined,
        ),
    });
    if (!outcome.ok) throw outcome.error;
    if (outcome.moved)
      this.deps.fanOut.publish({
        type: 'receipt',
        conversationId,
        memberId: this.memberId,
        kind,
        seq: outcome.seq,
      });
    return { seq: outcome.seq };
  }

  async #read(conversationId: string, query: (tx: Tx) => Promise<MessageRow[]>) {
    const { facts, decision } = await this.access.decided(conversationId, 'read', { audit: false });
    const rows = await this.access.audited([this.access.entry('conversation.read', decision, facts)], query);
    return { rows, decision };
  }

  async #open(
    conversationId: string,
    read: { rows: MessageRow[]; decision: Allowed } | MessageRow[],
  ): Promise<ChatMessage[]> {
    const { rows, decision } = Array.isArray(read) ? { rows: read, decision: undefined } : read;
    const scope = conversationScope(conversationId);
    const shown = decision ? rows.filter((r) => visibleMessage(decision, this.memberId, r)) : rows;
    return Promise.all(
      shown.map(async (r): Promise<ChatMessage> => {
        let body: string | null = null;
        if (!r.deletedAt) {
          try {
            body = await this.deps.sealer.openText(scope, r.id, r.sealedBody);
          } catch (err) {
            if (err instanceof DecryptionError)
              throw new ProblemError(
                500,
                PROBLEM.messageUnreadable,
                `message ${r.seq} failed authentication`,
              );
            throw err;
          }
        }
        return {
          conversationId,
          seq: r.seq,
          id: r.id,
          senderId: r.senderId,
          senderKind: r.senderKind,
          audience: r.audience,
          body,
          createdAt: r.createdAt.toISOString(),
          edited: r.editedAt !== null,
          deleted: r.deletedAt !== null,
          change: r.changeSeq ?? 0,
        };
      }),
    );
  }

  async #ownMessage(tx: Tx, conversationId: string, messageId: string): Promise<MessageRow> {
    const [row] = await tx
      .select()
      .from(messages)
      .where(and(eq(messages.conversationId, conversationId), eq(messages.id, messageId)))
      .for('update');
    if (!row) throw new ProblemError(404, PROBLEM.notFound, 'no such message');
    if (row.senderId !== this.memberId || row.deletedAt)
      throw new ProblemError(
        409,
        PROBLEM.messageNotEditable,
        'only its sender edits or deletes a message, once',
      );
    return row;
  }
}

/** A live event as a member receives it: messages and edits opened, the rest as published. */
export type LiveEvent =
  | (Omit<Extract<ConversationEvent, { type: 'message' }>, 'sealed'> & {
      body: string;
      edited: false;
      deleted: false;
    })
  | (Omit<Extract<ConversationEvent, { type: 'edited' }>, 'sealed'> & { body: string })
  | Exclude<ConversationEvent, { type: 'message' } | { type: 'edited' }>;

const validSeq = (n: number) => Number.isSafeInteger(n) && n >= 0;
const pageSize = (n: number) => (Number.isSafeInteger(n) && n > 0 ? Math.min(n, MAX_PAGE) : MAX_PAGE);
