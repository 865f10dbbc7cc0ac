import { sql } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.ts';
import { rowsOf, sendQuery } from '../../db/rows.ts';
import { conversationMembers, conversations, messages } from '../../db/schema/index.ts';
import type { AuditEntry, AuditLog } from '../audit/audit-log.ts';
import { Batcher } from '../batcher.ts';

export type ReceiptKind = 'delivered' | 'read';

export type ReceiptMove = {
  conversationId: string;
  memberId: string;
  memberKind: 'user' | 'guest';
  kind: ReceiptKind;
  seq: number;
  /** The audit entry of one watermark's move, naming the message it moved to. */
  audit: (kind: ReceiptKind, messageId: string | null) => AuditEntry;
};

/** The member's watermark of the asked kind after the batch, and whether this request moved it. */
export type ReceiptOutcome = { ok: true; seq: number; moved: boolean } | { ok: false; error: unknown };

const MAX_BATCH = 512;

type Marks = { delivered: number; read: number };
type Locked = {
  conversation_id: string;
  member_id: string;
  delivered_seq: string | number;
  read_seq: string | number;
  last_seq: string | number;
};

/**
 * Moves delivered/read watermarks with group commit, each move audited in the same transaction
 * (receipts are frequent: every delivered message may answer one). Per batch: the members' rows
 * are made to exist, locked in key order (batches of two nodes never wait on each other in a
 * cycle) and read with the conversation's last seq; the asked seqs are clamped to it, watermarks
 * only move forward and reading implies delivery; the moved rows are written with one statement
 * and their audit entries (one per member per watermark that moved, naming the message it moved
 * to) with one multi-row insert. Requests that move nothing write nothing and audit nothing.
 */
export class ReceiptWriter {
  readonly #group = new Batcher<ReceiptMove, ReceiptOutcome>((batch) => this.#write(batch), {
    maxBatch: MAX_BATCH,
  });

  constructor(
    private readonly db: Db,
    private readonly audit: AuditLog,
  ) {}

  write(move: ReceiptMove): Promise<ReceiptOutcome> {
    return this.#group.submit(move);
  }

  async #write(batch: ReceiptMove[]): Promise<ReceiptOutcome[]> {
    try {
      return await this.db.transaction((tx) => this.#writeBatch(tx, batch));
    } catch (error) {
      return batch.map(() => ({ ok: false, error }));
    }
  }

  async #writeBatch(tx: Tx, batch: ReceiptMove[]): Promise<ReceiptOutcome[]> {
    const asked = new Map<string, { move: ReceiptMove; marks: Marks }>();
    for (const m of batch) {
      const key = keyOf(m.conversationId, m.memberId);
      const entry = asked.get(key) ?? { move: m, marks: { delivered: 0, read: 0 } };
      entry.marks[m.kind] = Math.max(entry.marks[m.kind], m.seq);
      asked.set(key, entry);
    }
    const keys = [...asked.keys()].sort();
    const members = JSON.stringify(
      keys.map((k) => {
        const { move } = asked.get(k)!;
        return { c: move.conversationId, m: move.memberId, k: move.memberKind };
      }),
    );
    const created = sendQuery(
      tx.execute(sql`insert into ${conversationMembers} (conversation_id, member_id, member_kind)
        select v.c, v.m, v.k from json_to_recordset(${members}::json) as v(c text, m text, k text)
        join ${conversations} c on c.id = v.c
        on conflict (conversation_id, member_id) do nothing`),
    );
    const locked = sendQuery(
      tx.execute(sql`select m.conversation_id, m.member_id, m.delivered_seq, m.read_seq, c.last_seq
        from ${conversationMembers} m
        join json_to_recordset(${members}::json) as v(c text, m text, k text) on m.conversation_id = v.c and m.member_id = v.m
        join ${conversations} c on c.id = m.conversation_id
        order by m.conversation_id, m.member_id
        for update of m`),
    );
    const [, lockedRows] = await Promise.all([created, locked]);

    const after = new Map<string, Marks>();
    const moves: { key: string; marks: Marks; moved: { delivered: boolean; read: boolean } }[] = [];
    for (const r of rowsOf<Locked>(lockedRows)) {
      const key = keyOf(r.conversation_id, r.member_id);
      const wanted = asked.get(key)!.marks;
      const last = Number(r.last_seq);
      const was = { delivered: Number(r.delivered_seq), read: Number(r.read_seq) };
      const read = Math.max(was.read, Math.min(wanted.read, last));
      const delivered = Math.max(was.delivered, Math.min(wanted.delivered, last), read);
      const marks = { delivered, read };
      after.set(key, marks);
      const moved = { delivered: delivered > was.delivered, read: read > was.read };
      if (moved.delivered || moved.read) moves.push({ key, marks, moved });
    }
    if (moves.length) {
      const rows = moves.map(({ key, marks }) => {
        const { move } = asked.get(key)!;
        return { c: move.conversationId, m: move.memberId, d: marks.delivered, r: marks.read };
      });
      const json = JSON.stringify(rows);
      const updated = sendQuery(
        tx.execute(sql`update ${conversationMembers} m set delivered_seq = v.d, read_seq = v.r, updated_at = now()
          from json_to_recordset(${json}::json) as v(c text, m text, d bigint, r bigint)
          where m.conversation_id = v.c and m.member_id = v.m`),
      );
      const targets = JSON.stringify(
        rows.flatMap((r) => [
          { c: r.c, s: r.d },
          { c: r.c, s: r.r },
        ]),
      );
      const named = sendQuery(
        tx.execute(sql`select distinct m.conversation_id, m.seq, m.id from ${messages} m
          join json_to_recordset(${targets}::json) as v(c text, s bigint) on m.conversation_id = v.c and m.seq = v.s`),
      );
      const [, namedRows] = await Promise.all([updated, named]);
      const idAt = new Map(
        rowsOf<{ conversation_id: string; seq: string | number; id: string }>(namedRows).map((r) => [
          `${r.conversation_id}/${Number(r.seq)}`,
          r.id,
        ]),
      );
      const entries: AuditEntry[] = [];
      for (const { key, marks, moved } of moves) {
        const { move } = asked.get(key)!;
        for (const kind of ['delivered', 'read'] as const)
          if (moved[kind])
            entries.push(move.audit(kind, idAt.get(`${move.conversationId}/${marks[kind]}`) ?? null));
      }
      await this.audit.appendWithin(tx, entries);
    }

    const movedKeys = new Map(moves.map((m) => [m.key, m.moved]));
    // Each request hears the stored watermark; "moved" goes to the first request of its kind per member.
    const told = new Set<string>();
    return batch.map((m): ReceiptOutcome => {
      const key = keyOf(m.conversationId, m.memberId);
      const marks = after.get(key);
      if (!marks) return { ok: true, seq: 0, moved: false };
      const first = !told.has(`${key}/${m.kind}`);
      told.add(`${key}/${m.kind}`);
      return { ok: true, seq: marks[m.kind], moved: first && (movedKeys.get(key)?.[m.kind] ?? false) };
    });
  }
}

const keyOf = (conversationId: string, memberId: string) => `${conversationId}\u0000${memberId}`;
