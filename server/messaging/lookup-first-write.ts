import { sql, type SQL } from 'drizzle-orm';
import type { Tx } from '../../db/client.ts';
import { jsonBytea, jsonRows, jsonTextList } from '../../db/json-rows.ts';
import { rowsOf, sendQuery } from '../../db/rows.ts';
import { conversations, messages } from '../../db/schema/index.ts';
import { ProblemError } from '../api/errors.ts';
import { PROBLEM } from '../api/problem-codes.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { NewMessage, WriteOutcome } from './message-writer.ts';

type Existing = {
  conversation_id: string;
  id: string;
  seq: string | number;
  sender_id: string;
  created_at: string | Date;
};

/**
 * Locks the conversations' rows in id order, until the transaction ends: batches of different
 * nodes never wait on each other in a cycle, and a conversation's batches commit one after the
 * other, so seq order is commit order. NO KEY UPDATE: rows that only reference a conversation
 * (files, members) are not held up.
 */
export function lockConversations(ids: readonly string[]) {
  // The counters are read here, from the locked rows: their latest versions, also after a wait.
  return sql`select ${conversations.id} as id, ${conversations.lastSeq} as last_seq from ${conversations} where ${conversations.id} in ${jsonTextList(ids)} order by ${conversations.id} for no key update`;
}

/**
 * The stored message with that id, looked up by its unique index for each key of a batch: a plain
 * join with the batch's keys (a function's rows, estimated at 100) was planned as a hash join over
 * a sequential scan of all messages once the table had a few thousand rows. LIMIT keeps the
 * planner from flattening the lookup into such a join.
 */
export function storedId(conversationId: SQL, id: SQL) {
  return sql`select m.conversation_id, m.id, m.seq, m.sender_id, m.created_at from ${messages} m where m.conversation_id = ${conversationId} and m.id = ${id} limit 1`;
}

/**
 * A batch written by looking first, for what the pipelined statement (message-writer.ts) leaves
 * out: retried sends whose id is stored (they get their first ack again), unknown conversations
 * (404 for their messages only), and an audit chain another writer keeps moving. Two round trips
 * inside the transaction: the locks with the lookup of stored ids (read after the locks, so a
 * concurrent batch holding the same id has committed by then), then the rows, the counters and the
 * audit entries.
 */
export async function writeLookingFirst(
  tx: Tx,
  audit: AuditLog,
  batch: NewMessage[],
): Promise<WriteOutcome[]> {
  const conversationIds = [...new Set(batch.map((m) => m.conversationId))].sort();
  const keys = JSON.stringify(batch.map((m) => ({ c: m.conversationId, i: m.id })));
  const locked = sendQuery(tx.execute(lockConversations(conversationIds)));
  const stored = sendQuery(
    tx.execute(
      sql`select m.conversation_id, m.id, m.seq, m.sender_id, m.created_at from json_to_recordset(${keys}::json) as k(c text, i text), lateral (${storedId(sql`k.c`, sql`k.i`)}) m`,
    ),
  );
  const [lockedRows, storedRows] = await Promise.all([locked, stored]);
  const next = new Map(
    rowsOf<{ id: string; last_seq: string | number }>(lockedRows).map((r) => [r.id, Number(r.last_seq)]),
  );
  const existing = new Map(rowsOf<Existing>(storedRows).map((r) => [`${r.conversation_id}/${r.id}`, r]));

  const outcomes: WriteOutcome[] = [];
  const fresh: (NewMessage & { seq: number })[] = [];
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
    const numbered = { ...m, seq: last + 1 };
    firstOfKey.set(key, numbered);
    fresh.push(numbered);
    outcomes.push({ ok: true, seq: last + 1, createdAt: m.createdAt, duplicate: false });
  }
  if (!fresh.length) return outcomes;

  const rows = jsonRows(
    messages,
    fresh.map((m) => ({
      conversationId: m.conversationId,
      seq: m.seq,
      id: m.id,
      senderId: m.senderId,
      senderKind: m.senderKind,
      audience: m.audience,
      sealedBody: jsonBytea(m.sealedBody),
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
  const audited = audit.appendWithin(
    tx,
    fresh.map((m) => m.audit),
  );
  await Promise.all([inserted, moved, audited]);
  return outcomes;
}

export const idConflict = () =>
  new ProblemError(409, PROBLEM.messageIdConflict, 'that message id belongs to another message');
