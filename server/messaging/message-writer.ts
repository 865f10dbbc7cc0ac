import { sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { jsonBytea, jsonRows } from '../../db/json-rows.ts';
import { pipelinedTransaction, type PipelinedTransaction } from '../../db/pipelined-transaction.ts';
import { conversations, messages, type MessageAudience } from '../../db/schema/index.ts';
import type { AuditEntry, AuditLog, ChainedBatch } from '../audit/audit-log.ts';
import { refusedForContent } from '../audit/refused-entries.ts';
import { Batcher } from '../batcher.ts';
import { idConflict, lockConversations, storedId, writeLookingFirst } from './lookup-first-write.ts';

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
/** Pipelined attempts of a batch whose audit head guess was wrong (another writer moved it) before the lookup-first path. */
const HEAD_ATTEMPTS = 2;

/**
 * Writes messages with group commit: sends that arrive while a batch commits go together into the
 * next transaction.
 *
 * A batch is one pipelined transaction, one round trip (BEGIN, the statements and COMMIT are
 * written together): the conversations' rows are locked in id order (so batches of different nodes
 * never wait on each other in a cycle, and a conversation's batches commit one after the other:
 * seq order is commit order), then the audit chain's lock, then ONE statement that checks and
 * writes: only if every conversation exists, none of the ids is stored yet (checked after the
 * locks, so a concurrent batch holding the same id has committed by then) and the audit chain's
 * head is the one the entries were chained to, it moves the counters, inserts the messages with
 * their numbers and the audit entries; otherwise it writes nothing and says why. The COMMIT
 * therefore needs no decision of ours. A rollback undoes counters and rows together, so numbers
 * stay gap-free.
 *
 * Once that statement has answered, only the COMMIT is left: the next batch is prepared and sent
 * meanwhile (its locks wait in PostgreSQL for this commit), at most one batch finishing and one
 * being prepared; acks are answered in batch order once committed.
 *
 * A batch with a retried send (an id stored before) or an unknown conversation is written by the
 * lookup-first path (lookup-first-write.ts). A batch the database refuses for what one message
 * holds is split in halves and retried, as the audit log does (AuditLog.#append): only the refused
 * message fails.
 */
export class MessageWriter {
  readonly #group = new Batcher<NewMessage, WriteOutcome>(
    (batch, release) => this.#writeOrSplit(batch, release),
    { maxBatch: MAX_BATCH },
  );
  readonly #transaction: PipelinedTransaction;
  /** How batches went (read by the chat load test): pipelined attempts, and the slower ways out. */
  readonly stats = { batches: 0, messages: 0, pipelined: 0, headMissed: 0, lookedUpFirst: 0, split: 0 };

  constructor(
    private readonly db: Db,
    private readonly audit: AuditLog,
  ) {
    this.#transaction = pipelinedTransaction(db);
  }

  write(message: NewMessage): Promise<WriteOutcome> {
    return this.#group.submit(message);
  }

  async #writeOrSplit(batch: NewMessage[], release?: () => void): Promise<WriteOutcome[]> {
    try {
      return await this.#write(batch, release);
    } catch (error) {
      if (batch.length === 1 || !refusedForContent(error)) return batch.map(() => ({ ok: false, error }));
      this.stats.split++;
      const half = Math.ceil(batch.length / 2);
      return [
        ...(await this.#writeOrSplit(batch.slice(0, half))),
        ...(await this.#writeOrSplit(batch.slice(half))),
      ];
    }
  }

  async #write(batch: NewMessage[], release?: () => void): Promise<WriteOutcome[]> {
    const plan = planBatch(batch);
    this.stats.batches++;
    this.stats.messages += batch.length;
    let head: string | undefined;
    for (let attempt = 0; attempt < HEAD_ATTEMPTS; attempt++) {
      // No head yet: the one this node expects (see AuditLog.chainAhead).
      const chained = this.audit.chainAhead(
        plan.fresh.map((m) => m.audit),
        head,
      );
      this.stats.pipelined++;
      const tx = this.#transaction([
        lockConversations(plan.conversationIds),
        this.audit.lockStatement(),
        this.#checkAndWrite(plan, chained),
      ]);
      const [found] = (await tx.results[2]!) as Checked[];
      if (found!.ok) {
        release?.();
        await tx.committed;
        const bases = parseBases(found!.bases);
        return plan.outcomes((i) => bases[plan.fresh[i]!.conversationId]! + plan.offsets[i]!);
      }
      // Nothing was written; the commit only ends the transaction.
      await tx.committed;
      if (!found!.conversations_found || !found!.ids_new) break;
      this.stats.headMissed++;
      head = found!.head;
    }
    this.stats.lookedUpFirst++;
    return this.db.transaction((tx) => writeLookingFirst(tx, this.audit, batch));
  }

  /** The statement that writes a batch only if it can be written as planned (see the class comment). */
  #checkAndWrite(plan: Plan, chained: ChainedBatch) {
    const rows = jsonRows(
      messages,
      plan.fresh.map((m, i) => ({
        conversationId: m.conversationId,
        // The message's place among its conversation's messages in this batch; the statement adds the counter.
        seq: plan.offsets[i]!,
        id: m.id,
        senderId: m.senderId,
        senderKind: m.senderKind,
        audience: m.audience,
        sealedBody: jsonBytea(m.sealedBody),
        createdAt: m.createdAt,
      })),
    );
    const go = sql`(select ok from go)`;
    return sql`with input as (${rows.select}),
      counts as (select conversation_id, count(*)::bigint as n from input group by conversation_id),
      checked as (select
        (select count(*) from ${conversations} c join counts k on c.id = k.conversation_id) = ${plan.conversationIds.length} as conversations_found,
        not exists (select from input i, lateral (${storedId(sql`i.conversation_id`, sql`i.id`)}) hit) as ids_new,
        ${this.audit.headExpression()} as head),
      go as (select conversations_found and ids_new and head = ${chained.head} as ok from checked),
      moved as (
        update ${conversations} c set last_seq = c.last_seq + k.n from counts k
        where c.id = k.conversation_id and ${go}
        returning c.id, c.last_seq - k.n as base),
      stored as (
        insert into ${messages} (conversation_id, seq, id, sender_id, sender_kind, audience, sealed_body, created_at)
        select i.conversation_id, m.base + i.seq, i.id, i.sender_id, i.sender_kind, i.audience, i.sealed_body, i.created_at
        from input i join moved m on m.id = i.conversation_id),
      audited as (${this.audit.chainedInsert(chained, go)})
      select (select ok from go) as ok, conversations_found, ids_new, head,
        (select json_object_agg(id, base) from moved)::text as bases
      from checked`;
  }
}

type Checked = {
  ok: boolean;
  conversations_found: boolean;
  ids_new: boolean;
  head: string;
  bases: string | null;
};

type Plan = ReturnType<typeof planBatch>;

/**
 * The batch as it will be written: the first message of each (conversation, id) is fresh, with its
 * place among the fresh messages of its conversation; a later one with that key is a retry within
 * the batch (same ack) or, from another sender, a conflict.
 */
function planBatch(batch: NewMessage[]) {
  const fresh: NewMessage[] = [];
  const offsets: number[] = [];
  const firstOf: number[] = [];
  const indexOfKey = new Map<string, number>();
  const perConversation = new Map<string, number>();
  for (const m of batch) {
    const key = `${m.conversationId}/${m.id}`;
    const earlier = indexOfKey.get(key);
    if (earlier !== undefined) {
      firstOf.push(earlier);
      continue;
    }
    const offset = (perConversation.get(m.conversationId) ?? 0) + 1;
    perConversation.set(m.conversationId, offset);
    indexOfKey.set(key, fresh.length);
    firstOf.push(fresh.length);
    fresh.push(m);
    offsets.push(offset);
  }
  return {
    fresh,
    offsets,
    conversationIds: [...perConversation.keys()].sort(),
    /** Each message's outcome, given the seq each fresh one got. */
    outcomes(seqOf: (freshIndex: number) => number): WriteOutcome[] {
      const firstSeen = new Set<number>();
      return batch.map((m, i): WriteOutcome => {
        const f = firstOf[i]!;
        const first = fresh[f]!;
        const duplicate = firstSeen.has(f);
        firstSeen.add(f);
        if (duplicate && first.senderId !== m.senderId) return { ok: false, error: idConflict() };
        return { ok: true, seq: seqOf(f), createdAt: first.createdAt, duplicate };
      });
    },
  };
}

function parseBases(text: string | null): Record<string, number> {
  return text ? (JSON.parse(text) as Record<string, number>) : {};
}
