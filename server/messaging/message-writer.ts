import { sql } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.ts';
import { jsonRows, jsonTextList } from '../../db/json-rows.ts';
import { rowsOf, sendQuery } from '../../db/rows.ts';
import { conversations, messages, type MessageAudience } from '../../db/schema/index.ts';
import { ProblemError } from '../api/errors.ts';
import { PROBLEM } from '../api/problem-codes.ts';
import type { AuditEntry, AuditLog } from '../audit/audit-log.ts';
import { refusedForContent } from '../audit/refused-entries.ts';
import { Batcher } from '../batcher.ts';

export type NewMessage = {
  conversationId: string;
  id: string;
  senderId: string;
  senderKind: 'user' | 'guest';
  audience: MessageAudience;
  sealedBody: Uint8Array;
  createdAt: Date;
  /** 'message.sent', appended in the same transaction as the row. */
  audit: AuditEntry;
};

export type WriteOutcome =
  { ok: true; seq: number; createdAt: Date; duplicate: boolean } | { ok: false; error: unknown };

/** Most messages one transaction writes. */
const MAX_BATCH = 512;

type Existing = {
  conversation_id: string;
  id: string;
  seq: string | number;
  sender_id: string;
  created_at: string | Date;
};

/**
 * Writes messages with group commit: sends that arrive while a batch commits go together into the
 * next transaction, which costs two round trips and one commit whatever its size.
 *
 * Per batch, in one transaction: the conversations' rows are locked in id order (so batches of
 * different nodes never wait on each other in a cycle, and a conversation's batches commit one
 * after the other: seq order is commit order), the ids already stored are looked up (a retried
 * send; read after the lock, so a concurrent batch holding the same id has committed by then),
 * the new messages get the next numbers and are inserted with one multi-row statement, the
 * counters move on, and the audit entries go in with one multi-row insert of their own. A
 * rollback undoes counter and rows together, so numbers stay gap-free.
 *
 * A batch the database refuses for what one message holds is split in halves and retried, as the
 * audit log does (AuditLog.#append): only the refused message fails.
 */
export class MessageWriter {
  readonly #group = new Batcher<NewMessage, WriteOutcome>((batch) => this.#writeOrSplit(batch), {
    maxBatch: MAX_BATCH,
  });

  constructor(
    private readonly db: Db,
    private readonly audit: AuditLog,
  ) {}

  write(message: NewMessage): Promise<WriteOutcome> {
    return this.#group.submit(message);
  }

  async #writeOrSplit(batch: NewMessage[]): Promise<WriteOutcome[]> {
    try {
      return await this.db.transaction((tx) => this.#writeBatch(tx, batch));
    } catch (error) {
      if (batch.length === 1 || !refusedForContent(error)) return batch.map(() => ({ ok: false, error }));
      const half = Math.ceil(batch.length / 2);
      return [
        ...(await this.#writeOrSplit(batch.slice(0, half))),
        ...(await this.#writeOrSplit(batch.slice(half))),
      ];
    }
  }

  async #writeBatch(tx: Tx, batch: NewMessage[]): Promise<WriteOutcome[]> {
    const conversationIds = [...new Set(batch.map((m) => m.conversationId))].sort();
    const keys = JSON.stringify(batch.map((m) => ({ c: m.conversationId, i: m.id })));
    const locked = sendQuery(
      tx.execute(
        sql`select ${conversations.id} as id, ${conversations.lastSeq} as last_seq from ${conversations} where ${conversations.id} in ${jsonTextList(conversationIds)} order by ${conversations.id} for update`,
      ),
    );
    const stored = sendQuery(
      tx.execute(
        sql`select m.conversation_id, m.id, m.seq, m.sender_id, m.created_at from ${messages} m join json_to_recordset(${keys}::json) as k(c text, i text) on m.conversation_id = k.c and m.id = k.i`,
      ),
    );
    const [lockedRows, storedRows] = await Promise.all([locked, stored]);
    const next = new Map(
      rowsOf<{ id: string; last_seq: string | number }>(lockedRows).map((r) => [r.id, Number(r.last_seq)]),
    );
    const existing = new Map(rowsOf<Existing>(storedRows).map((r) => [`${r.conversation_id}/${r.id}`, r]));

    const outcomes: WriteOutcome[] = [];
    const fresh: NewMessage[] = [];
    const firstOfKey = new Map<string, NewMessage & { seq: number }>();
    for (const m of batch) {
      const key = `${m.conversationId}/${m.id}`;
      const old = existing.get(key);
      const earlier = firstOfKey.get(key);
      if (old || earlier) {
        // A retried send: the same ack, nothing new. Another sender's id is a conflict, never their ack.
        const senderId = old ? old.sender_id : earlier!.senderId;
        outcomes.push(
          senderId !== m.senderId
            ? { ok: false, error: idConflict() }
            : {
                ok: true,
                seq: old ? Number(old.seq) : earlier!.seq,
                createdAt: old ? new Date(old.created_at) : earlier!.createdAt,
                duplicate: true,
              },
        );
        continue;
      }
      const last = next.get(m.conversationId);
      if (last === undefined) {
        outcomes.push({ ok: false, error: new ProblemError(404, PROBLEM.notFound, 'no such conversation') });
        continue;
      }
      next.set(m.conversationId, last + 1);
      firstOfKey.set(key, { ...m, seq: last + 1 });
      fresh.push(m);
      outcomes.push({ ok: true, seq: last + 1, createdAt: m.createdAt, duplicate: false });
    }
    if (!fresh.length) return outcomes;

    const rows = jsonRows(
      messages,
      fresh.map((m) => ({
        conversationId: m.conversationId,
        seq: firstOfKey.get(`${m.conversationId}/${m.id}`)!.seq,
        id: m.id,
        senderId: m.senderId,
        senderKind: m.senderKind,
        audience: m.audience,
        // bytea travels in the JSON parameter as PostgreSQL's hex text form.
        sealedBody:
          `\\x${Buffer.from(m.sealedBody.buffer, m.sealedBody.byteOffset, m.sealedBody.length).toString('hex')}` as unknown as Uint8Array,
        createdAt: m.createdAt,
      })),
    );
    const counters = JSON.stringify(
      conversationIds.filter((id) => next.has(id)).map((id) => ({ id, last_seq: next.get(id) })),
    );
    const inserted = sendQuery(tx.execute(sql`insert into ${messages} ${rows.columns} ${rows.select}`));
    const moved = sendQuery(
      tx.execute(
        sql`update ${conversations} c set last_seq = v.last_seq from json_to_recordset(${counters}::json) as v(id text, last_seq bigint) where c.id = v.id`,
      ),
    );
    const audited = this.audit.appendWithin(
      tx,
      fresh.map((m) => m.audit),
    );
    await Promise.all([inserted, moved, audited]);
    return outcomes;
  }
}

const idConflict = () =>
  new ProblemError(409, PROBLEM.messageIdConflict, 'that message id belongs to another message');
