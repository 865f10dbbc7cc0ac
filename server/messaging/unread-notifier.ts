import { sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Db } from '../../db/client.ts';
import { rowsOf } from '../../db/rows.ts';
import { conversationMembers, conversations, messages, users } from '../../db/schema/index.ts';
import type { NotificationProvider } from '../notifications/types.ts';

type Due = {
  conversation_id: string;
  member_id: string;
  last_seq: string | number;
  before: string | number;
  email: string;
};

/**
 * E-mails members who have left a message unread for `delayMs`: one e-mail per batch of unread
 * messages (notified_seq moves to the conversation's last seq, so the next e-mail needs a newer
 * message), with no message text, sender or clinic in it. Safe on every node at once: members are
 * claimed with FOR UPDATE SKIP LOCKED and marked in that transaction, then mailed with an
 * idempotency key; a failed hand-over puts the mark back so the next pass retries. A process
 * killed between the claim and the hand-over skips that one e-mail (the messages stay unread and
 * listed; it is a reminder, not the message).
 */
export class UnreadNotifier {
  #timer: NodeJS.Timeout | undefined;
  #pass: Promise<unknown> | undefined;
  #stopped = true;

  constructor(
    private readonly deps: {
      db: Db;
      provider: NotificationProvider;
      publicUrl: () => string;
      logger: Logger;
      delayMs: number;
      tickMs: number;
      batchSize?: number;
    },
  ) {}

  start() {
    this.#stopped = false;
    this.#schedule(this.deps.tickMs);
  }

  async stop() {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#pass;
  }

  /** One pass: claims and mails what is due at `now`; returns how many e-mails were handed over. */
  async runOnce(now = new Date()): Promise<number> {
    const cutoff = new Date(now.getTime() - this.deps.delayMs);
    const due = await this.deps.db.transaction(async (tx) => {
      const rows = rowsOf<Due>(
        await tx.execute(sql`
          select m.conversation_id, m.member_id, c.last_seq, m.notified_seq as before, u.email
            from ${conversationMembers} m
            join ${conversations} c on c.id = m.conversation_id
            join ${users} u on u.id = m.member_id and u.email is not null and u.disabled_at is null
           where m.member_kind = 'user' and c.last_seq > greatest(m.read_seq, m.notified_seq)
             and exists (select 1 from ${messages} x where x.conversation_id = m.conversation_id
                           and x.seq > greatest(m.read_seq, m.notified_seq) and x.sender_id <> m.member_id
                           and x.deleted_at is null and (x.audience = 'all' or c.doctor_id = m.member_id)
                           and x.created_at <= ${cutoff.toISOString()}::timestamptz)
           order by m.conversation_id, m.member_id
           limit ${this.deps.batchSize ?? 100}
           for update of m skip locked`),
      );
      if (rows.length) {
        const marks = JSON.stringify(
          rows.map((r) => ({ c: r.conversation_id, m: r.member_id, s: Number(r.last_seq) })),
        );
        await tx.execute(
          sql`update ${conversationMembers} t set notified_seq = v.s from json_to_recordset(${marks}::json) as v(c text, m text, s bigint) where t.conversation_id = v.c and t.member_id = v.m`,
        );
      }
      return rows;
    });
    let sent = 0;
    for (const r of due) {
      try {
        await this.deps.provider.send({
          channel: 'email',
          recipient: r.email,
          template: 'chat_unread',
          subject: 'You have unread messages in CareCall',
          body: `You have unread messages in CareCall. Sign in to read them: ${this.deps.publicUrl()}/`,
          idempotencyKey: `chat-unread:${r.conversation_id}:${r.member_id}:${Number(r.last_seq)}`,
        });
        sent++;
      } catch (err) {
        // Logged by ids only; the mark goes back so a later pass tries again.
        this.deps.logger.warn(
          { conversationId: r.conversation_id, memberId: r.member_id, error: (err as Error).name },
          'unread chat notice not handed over',
        );
        await this.deps.db.execute(
          sql`update ${conversationMembers} set notified_seq = ${Number(r.before)} where conversation_id = ${r.conversation_id} and member_id = ${r.member_id} and notified_seq = ${Number(r.last_seq)}`,
        );
      }
    }
    return sent;
  }

  #schedule(delay: number) {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#pass = this.runOnce()
        .catch((err: unknown) =>
          this.deps.logger.error({ error: (err as Error).name }, 'unread chat notices failed'),
        )
        .finally(() => {
          this.#pass = undefined;
          this.#schedule(this.deps.tickMs);
        });
    }, delay);
    this.#timer.unref();
  }
}
